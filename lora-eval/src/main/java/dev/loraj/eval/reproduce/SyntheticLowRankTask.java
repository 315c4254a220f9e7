package dev.loraj.eval.reproduce;

import dev.loraj.core.adapter.AdapterRegistry;
import dev.loraj.core.adapter.AdapterSpec;
import dev.loraj.core.lora.Fill;
import dev.loraj.core.lora.LoraAdapter;
import dev.loraj.core.lora.LoraConfig;
import dev.loraj.core.model.MlpModel;
import dev.loraj.core.model.PeftModel;
import dev.loraj.core.model.Targets;
import dev.loraj.core.train.Objective;
import dev.loraj.core.train.TrainConfig;
import dev.loraj.core.train.TrainResult;
import dev.loraj.core.train.Trainer;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * The synthetic low-rank task of {@code LowRankRecoveryTest}: one linear layer W0 [d, d], the
 * teacher is W0 + dW* with dW* of rank k; LoRA on that layer learns from x ~ N(0, 1) batches of
 * 64 with mean squared error. Everything is seeded.
 */
final class SyntheticLowRankTask {
  private final int d;
  private final INDArray teacherDelta; // [d, d], rank k

  SyntheticLowRankTask(int d, int k, long seed) {
    this.d = d;
    SplittableRandom rnd = new SplittableRandom(seed);
    INDArray u = Fill.normal(new long[] {d, k}, 1.0 / Math.sqrt(d), rnd);
    INDArray v = Fill.normal(new long[] {k, d}, 1.0, rnd);
    this.teacherDelta = u.mmul(v).muli(0.5); // [d, k] x [k, d]
  }

  /** Trained model and its loss curve. */
  record Run(TrainResult result, INDArray a) {}

  Run train(LoraConfig lora, int steps, double lr, long adapterSeed) {
    MlpModel base = MlpModel.random(List.of(d, d), MlpModel.Activation.NONE, false, 1);
    base.weights().get("layers.0.bias").assign(0);
    INDArray teacherWeightT = base.weights().get("layers.0.weight").add(teacherDelta)
        .transpose().dup(); // [in, out]
    PeftModel student = new PeftModel(base, AdapterRegistry.discover());
    student.addAdapter("default", new AdapterSpec(lora, Targets.of("layers.0")), adapterSeed);
    TrainConfig cfg = TrainConfig.of(steps, lr, 5).withSchedule(TrainConfig.Schedule.COSINE,
        Math.max(1, steps / 20));
    TrainResult res = new Trainer(cfg).train(student, Objective.meanSquaredError(), (step, micro) -> {
      INDArray x = Fill.normal(new long[] {64, d}, 1.0, new SplittableRandom(step * 7919L));
      return Map.of("x", x, "targets", x.mmul(teacherWeightT)); // bias is zero
    });
    LoraAdapter adapter = (LoraAdapter) student.adapter("default").sites().get("layers.0");
    return new Run(res, adapter.a().dup());
  }
}
