package dev.loraj.eval.task;

import dev.loraj.core.lora.Fill;
import dev.loraj.core.model.BaseModel;
import dev.loraj.core.model.MlpModel;
import dev.loraj.core.model.PeftModel;
import dev.loraj.core.train.Batches;
import dev.loraj.core.train.Objective;
import dev.loraj.eval.metrics.ClassificationMetrics;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * A fast synthetic task with a known structure, for tests and CI-length sweeps: the "pretrained"
 * base is a random MLP; the labels come from the same MLP whose hidden layers carry a rank-k
 * perturbation (the shift a fine-tuning has to learn). A new head alone cannot represent the
 * shift in the hidden layers; an adapter on them can. Everything derives from {@code seed}.
 */
public final class SyntheticClassificationTask implements Task {

  private final int width;
  private final int classes;
  private final int shiftRank;
  private final long seed;
  private final INDArray testX;
  private final int[] testY;
  private final MlpModel teacher;

  public SyntheticClassificationTask(int width, int classes, int shiftRank, int testExamples, long seed) {
    this.width = width;
    this.classes = classes;
    this.shiftRank = shiftRank;
    this.seed = seed;
    MlpModel base = base();
    Map<String, INDArray> w = new LinkedHashMap<>();
    SplittableRandom rnd = new SplittableRandom(seed ^ 0x5EED);
    base.weights().forEach((k, v) -> w.put(k, v.dup()));
    for (String layer : List.of("layers.0.weight", "layers.1.weight")) {
      INDArray u = Fill.normal(new long[] {width, shiftRank}, 1.0 / Math.sqrt(width), rnd);
      INDArray v = Fill.normal(new long[] {shiftRank, width}, 1.0, rnd);
      w.get(layer).addi(u.mmul(v).muli(0.8)); // [w, k] x [k, w]
    }
    // the teacher's head is sharper so labels are not noise
    w.get("head.weight").muli(4);
    this.teacher = base.withWeights(w);
    this.testX = inputs(testExamples, new SplittableRandom(seed ^ 0x7E57));
    this.testY = labels(testX);
  }

  private MlpModel base() {
    return MlpModel.random(List.of(width, width, width, classes), MlpModel.Activation.TANH, true, seed);
  }

  private INDArray inputs(int n, SplittableRandom rnd) {
    return Fill.normal(new long[] {n, width}, 1.0, rnd);
  }

  private int[] labels(INDArray x) {
    INDArray logits = new PeftModel(teacher, dev.loraj.core.adapter.AdapterRegistry.of(List.of())).output(Map.of("x", x));
    return logits.argMax(1).toIntVector();
  }

  @Override
  public String id() {
    return "synthetic-" + width + "x" + classes + "-k" + shiftRank;
  }

  @Override
  public String datasetId() {
    return id() + "-seed" + seed;
  }

  @Override
  public String datasetSha256() {
    return com.google.common.hash.Hashing.sha256()
        .hashString(datasetId() + java.util.Arrays.toString(testY), java.nio.charset.StandardCharsets.UTF_8).toString();
  }

  @Override
  public String baseModelName() {
    return "random MLP " + List.of(width, width, width, classes) + " (seed " + seed + ")";
  }

  @Override
  public BaseModel newBaseModel() {
    MlpModel b = base();
    // a fresh head: the task's classes are new to the "pretrained" body
    Fill.normal(b.weights().get("head.weight"), 0, 0.02, new SplittableRandom(seed + 99));
    b.weights().get("head.bias").assign(0);
    return b;
  }

  @Override
  public Objective objective() {
    return Objective.classification();
  }

  @Override
  public Batches trainBatches(long trialSeed, int batchSize) {
    return (step, micro) -> {
      SplittableRandom rnd = new SplittableRandom(trialSeed * 1_000_003L + step * 31 + micro);
      INDArray x = inputs(batchSize, rnd);
      int[] y = labels(x);
      return Map.of("x", x, "labels", oneHot(y, classes));
    };
  }

  public static INDArray oneHot(int[] y, int classes) {
    float[] v = new float[y.length * classes];
    for (int i = 0; i < y.length; i++) {
      v[i * classes + y[i]] = 1f;
    }
    return Nd4j.create(v, new long[] {y.length, classes}, 'c');
  }

  @Override
  public Map<String, Double> evaluate(PeftModel model) {
    INDArray logits = model.output(Map.of("x", testX));
    int[] pred = logits.argMax(1).toIntVector();
    return ClassificationMetrics.compute(pred, testY, classes);
  }

  @Override
  public List<String> headModules() {
    return List.of("head");
  }
}
