package dev.loraj.eval.task;

import dev.loraj.core.model.BaseModel;
import dev.loraj.core.model.PeftModel;
import dev.loraj.core.train.Batches;
import dev.loraj.core.train.Objective;
import java.util.List;
import java.util.Map;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * A fine-tuning task: a base model, training batches, and held-out evaluation. Everything that
 * varies across a sweep (variant, rank, seed) is outside; everything that defines the problem is
 * inside, so trials of one sweep are comparable.
 */
public interface Task {

  /** Short id used in trial files, e.g. {@code sotu-party/minilm}. */
  String id();

  String datasetId();

  /** Hash of the data that defines the task (for provenance). */
  String datasetSha256();

  /** Description of the base model (family and source) for reports. */
  String baseModelName();

  /** A fresh base model (its own weight arrays: a trial may rewrite or merge them). */
  BaseModel newBaseModel();

  Objective objective();

  /** Training micro-batches: deterministic in {@code seed}. */
  Batches trainBatches(long seed, int batchSize);

  /**
   * Adds what the task holds (its data, a pretrained checkpoint new base models are copied from)
   * to {@code ledger} as {@code other}; nothing by default.
   */
  default void addTo(dev.loraj.core.engine.MemoryLedger ledger) {}

  /** Held-out metrics of the model's current state. */
  Map<String, Double> evaluate(PeftModel model);

  /** Module names a classifier head has (trained in every method, like PEFT's modules_to_save). */
  List<String> headModules();

  /** Tokens (or rows) per example, for throughput. */
  default long tokensPerExample() {
    return 1;
  }

  /** A few training batches for methods that calibrate on data (CorDA). */
  default List<Map<String, INDArray>> calibrationBatches(int count, int batchSize) {
    Batches b = trainBatches(0, batchSize);
    return java.util.stream.IntStream.range(0, count).mapToObj(i -> b.get(i + 1, 0)).toList();
  }

  default String primaryMetric() {
    return "accuracy";
  }

  default boolean higherIsBetter() {
    return true;
  }
}
