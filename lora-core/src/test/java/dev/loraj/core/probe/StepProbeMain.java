package dev.loraj.core.probe;

import dev.loraj.core.adapter.AdapterRegistry;
import dev.loraj.core.adapter.AdapterSpec;
import dev.loraj.core.lora.Fill;
import dev.loraj.core.lora.LoraConfig;
import dev.loraj.core.model.MlpModel;
import dev.loraj.core.model.PeftModel;
import dev.loraj.core.model.Targets;
import dev.loraj.core.train.Objective;
import dev.loraj.core.train.TrainConfig;
import dev.loraj.core.train.Trainer;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.nd4j.linalg.api.ndarray.INDArray;

public class StepProbeMain {
  public static void main(String[] args) {
    int d = Integer.parseInt(args[0]);
    MlpModel base = MlpModel.random(List.of(d, d), MlpModel.Activation.NONE, false, 1);
    PeftModel pm = new PeftModel(base, AdapterRegistry.discover());
    pm.addAdapter("default", new AdapterSpec(LoraConfig.of(4, 4), Targets.of("layers.0")), 3);
    INDArray x = Fill.normal(new long[] {64, d}, 1.0, new SplittableRandom(1));
    INDArray t = Fill.normal(new long[] {64, d}, 1.0, new SplittableRandom(2));
    var r = new Trainer(TrainConfig.of(50, 1e-2, 5)).train(pm, Objective.meanSquaredError(), (s, m) -> Map.of("x", x, "targets", t));
    System.out.println("median step ms " + r.medianStepMillis() + " first " + r.stepMillis().subList(0, 5));
  }
}
