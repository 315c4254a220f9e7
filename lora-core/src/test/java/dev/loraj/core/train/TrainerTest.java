package dev.loraj.core.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.loraj.core.adapter.AdapterRegistry;
import dev.loraj.core.adapter.AdapterSpec;
import dev.loraj.core.checkpoint.CheckpointListener;
import dev.loraj.core.checkpoint.PeftAdapters;
import dev.loraj.core.lora.Fill;
import dev.loraj.core.lora.LoraAdapter;
import dev.loraj.core.lora.LoraConfig;
import dev.loraj.core.model.MlpModel;
import dev.loraj.core.model.PeftModel;
import dev.loraj.core.model.Targets;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.ndarray.INDArray;

class TrainerTest {

  static PeftModel model() {
    MlpModel base = MlpModel.random(List.of(12, 16, 3), MlpModel.Activation.TANH, true, 4);
    PeftModel pm = new PeftModel(base, AdapterRegistry.discover());
    pm.addAdapter("default", new AdapterSpec(LoraConfig.of(4, 8), Targets.allLinear()), 9);
    return pm;
  }

  static Map<String, INDArray> batch(long step, int micro, int n) {
    SplittableRandom r = new SplittableRandom(step * 101 + micro);
    return Map.of("x", Fill.normal(new long[] {n, 12}, 1, r), "targets", Fill.normal(new long[] {n, 3}, 1, r));
  }

  static INDArray b(PeftModel pm) {
    return ((LoraAdapter) pm.adapter("default").sites().get("layers.0")).b();
  }

  @Test
  void sameSeedSameNumbers() {
    PeftModel p1 = model();
    PeftModel p2 = model();
    TrainResult r1 = new Trainer(TrainConfig.of(5, 1e-2, 3)).train(p1, Objective.meanSquaredError(), (s, m) -> batch(s, m, 8));
    TrainResult r2 = new Trainer(TrainConfig.of(5, 1e-2, 3)).train(p2, Objective.meanSquaredError(), (s, m) -> batch(s, m, 8));
    assertThat(r1.losses()).isEqualTo(r2.losses());
    assertThat(b(p1).equals(b(p2))).isTrue();
  }

  @Test
  void accumulatingTwoHalvesEqualsOneFullBatch() {
    // one batch of 8 rows vs two micro-batches of 4 rows whose concatenation is that batch
    PeftModel full = model();
    PeftModel acc = model();
    Map<String, INDArray> whole = batch(1, 0, 8);
    new Trainer(TrainConfig.of(1, 1e-2, 1)).train(full, Objective.meanSquaredError(), (s, m) -> whole);
    new Trainer(TrainConfig.of(1, 1e-2, 1).withAccumulation(2)).train(acc, Objective.meanSquaredError(), (s, m) -> Map.of(
        "x", whole.get("x").get(org.nd4j.linalg.indexing.NDArrayIndex.interval(4 * m, 4 * m + 4), org.nd4j.linalg.indexing.NDArrayIndex.all()).dup(),
        "targets", whole.get("targets").get(org.nd4j.linalg.indexing.NDArrayIndex.interval(4 * m, 4 * m + 4), org.nd4j.linalg.indexing.NDArrayIndex.all()).dup()));
    assertThat(b(acc).equalsWithEps(b(full), 1e-6)).isTrue();
  }

  @Test
  void scheduleFollowsHuggingFace() {
    TrainConfig c = TrainConfig.of(10, 1.0, 0).withSchedule(TrainConfig.Schedule.LINEAR, 2);
    // HF lambda(t) at t = step - 1: warm-up t/2 for t < 2, then (10 - t) / 8
    assertThat(c.learningRateAt(1)).isEqualTo(0.0);
    assertThat(c.learningRateAt(2)).isEqualTo(0.5);
    assertThat(c.learningRateAt(3)).isEqualTo(1.0);
    assertThat(c.learningRateAt(10)).isEqualTo(0.125);
    TrainConfig cos = TrainConfig.of(10, 1.0, 0).withSchedule(TrainConfig.Schedule.COSINE, 0);
    assertThat(cos.learningRateAt(6)).isCloseTo(0.5, org.assertj.core.data.Offset.offset(1e-12));
  }

  @Test
  void nonFiniteLossStopsAndKeepsTheLastGoodCheckpoint(@TempDir Path tmp) throws Exception {
    PeftModel pm = model();
    Path ckpt = tmp.resolve("ckpt");
    CheckpointListener saver = new CheckpointListener(pm, "default", ckpt, 1);
    Trainer trainer = new Trainer(TrainConfig.of(10, 1e-2, 1)).listen(saver);
    assertThatThrownBy(() -> trainer.train(pm, Objective.meanSquaredError(), (s, m) -> {
      Map<String, INDArray> b = batch(s, m, 8);
      if (s == 4) {
        b.get("x").putScalar(0, 0, Double.NaN);
      }
      return b;
    })).isInstanceOf(NonFiniteLossException.class).hasMessageContaining("training stopped at step 4");
    assertThat(saver.lastSavedStep()).isEqualTo(3);
    // the model still holds step 3's parameters, which is what the checkpoint holds
    PeftModel reloaded = new PeftModel(MlpModel.random(List.of(12, 16, 3), MlpModel.Activation.TANH, true, 4), AdapterRegistry.discover());
    PeftAdapters.load(reloaded, ckpt, "default");
    assertThat(b(reloaded).equals(b(pm))).isTrue();
    assertThat(org.nd4j.linalg.factory.Nd4j.getExecutioner().exec(new org.nd4j.linalg.api.ops.impl.reduce.bool.IsNaN(b(pm))).getDouble(0)).isZero();
  }
}
