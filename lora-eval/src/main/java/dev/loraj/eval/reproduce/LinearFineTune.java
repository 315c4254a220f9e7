package dev.loraj.eval.reproduce;

import dev.loraj.core.adapter.AdapterConfig;
import dev.loraj.core.adapter.AdapterRegistry;
import dev.loraj.core.adapter.AdapterSpec;
import dev.loraj.core.lora.Fill;
import dev.loraj.core.model.MlpModel;
import dev.loraj.core.model.PeftModel;
import dev.loraj.core.model.Targets;
import dev.loraj.core.train.Objective;
import dev.loraj.core.train.TrainConfig;
import dev.loraj.core.train.Trainer;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Fine-tuning one linear layer from a given "pretrained" weight W0 [out, in] towards a teacher
 * W* [out, in]: x ~ N(0, I) batches of 64, mean squared error of x W^T against x W*^T, Adam with
 * a constant learning rate. The loss of a weight W is ||W - W*||_F^2 / out in expectation, so the
 * initial loss (every identity-at-init adapter) is ||W0 - W*||_F^2 / out for all methods.
 */
final class LinearFineTune {
  private static final AdapterRegistry REGISTRY = AdapterRegistry.discover();

  private final INDArray w0;        // [out, in]
  private final INDArray teacherT;  // [in, out]

  LinearFineTune(INDArray w0, INDArray teacher) {
    this.w0 = w0;
    this.teacherT = teacher.transpose().dup();
  }

  /** The training loss per step (step k's batch before its update). */
  List<Double> train(AdapterConfig config, int steps, double lr, long seed) {
    int out = Math.toIntExact(w0.size(0));
    int in = Math.toIntExact(w0.size(1));
    Map<String, INDArray> weights = new LinkedHashMap<>();
    weights.put("layers.0.weight", w0.dup());
    weights.put("layers.0.bias", Nd4j.zeros(DataType.FLOAT, out));
    MlpModel base = new MlpModel(List.of(in, out), MlpModel.Activation.NONE, false, weights);
    PeftModel student = new PeftModel(base, REGISTRY);
    student.addAdapter("default", new AdapterSpec(config, Targets.of("layers.0")), seed);
    return new Trainer(TrainConfig.of(steps, lr, seed)).train(student, Objective.meanSquaredError(), (step, micro) -> {
      INDArray x = Fill.normal(new long[] {64, in}, 1.0, new SplittableRandom(seed * 1_000_003L + step * 7919L));
      return Map.of("x", x, "targets", x.mmul(teacherT)); // [64, in] x [in, out]
    }).losses();
  }

  /** Mean of the losses at 1-based steps [from, to]. */
  static double window(List<Double> losses, int from, int to) {
    double s = 0;
    for (int i = from; i <= to; i++) {
      s += losses.get(i - 1);
    }
    return s / (to - from + 1);
  }
}
