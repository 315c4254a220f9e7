package dev.loraj.variants.resume;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

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
import dev.loraj.variants.adalora.AdaLoraConfig;
import dev.loraj.variants.deltalora.DeltaLora;
import dev.loraj.variants.relora.ReLora;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Training checkpoints of variants whose {@code afterStep} keeps state of its own: Delta-LoRA's
 * last low-rank delta is captured and its resumed run equals the uninterrupted one bit for bit;
 * ReLoRA and AdaLoRA, whose state a checkpoint cannot hold, are refused before training starts.
 */
class TrainingResumeTest {
  @TempDir Path dir;

  static PeftModel model(AdapterConfig cfg) {
    PeftModel pm = new PeftModel(MlpModel.random(List.of(12, 16, 3), MlpModel.Activation.TANH, true, 4),
        AdapterRegistry.discover());
    pm.addAdapter("default", new AdapterSpec(cfg, Targets.allLinear()), 9);
    return pm;
  }

  static Map<String, INDArray> batch(long step, int micro) {
    SplittableRandom r = new SplittableRandom(step * 101 + micro);
    return Map.of("x", Fill.normal(new long[] {8, 12}, 1, r), "targets", Fill.normal(new long[] {8, 3}, 1, r));
  }

  @Test
  void deltaLoraResumesBitForBit() throws Exception {
    AdapterConfig cfg = DeltaLora.Config.defaults().withRankAndAlpha(2, 4).withUpdate(0.5, 1);
    TrainConfig train = TrainConfig.of(6, 1e-2, 3);
    PeftModel whole = model(cfg);
    new Trainer(train).train(whole, Objective.meanSquaredError(), TrainingResumeTest::batch);

    PeftModel first = model(cfg);
    Path ckpt = dir.resolve("delta");
    // a run that dies after step 3 (its checkpoint), then a fresh one that resumes it
    assertThatThrownBy(() -> new Trainer(train).checkpoints(ckpt, 3).listen(new dev.loraj.core.train.TrainListener() {
      @Override
      public void onStep(long step, long total, double loss, double lr, double ms) {
        if (step == 3) {
          throw new IllegalStateException("killed");
        }
      }
    }).train(first, Objective.meanSquaredError(), TrainingResumeTest::batch)).hasMessage("killed");
    PeftModel resumed = model(cfg);
    new Trainer(train).checkpoints(ckpt, 3).train(resumed, Objective.meanSquaredError(), TrainingResumeTest::batch);
    whole.adapter("default").sites().forEach((site, a) -> {
      var r = resumed.adapter("default").sites().get(site);
      a.parameters().forEach((k, w) -> assertThat(r.parameters().get(k).data().asFloat())
          .as(site + " " + k).containsExactly(w.data().asFloat()));
      a.buffers().forEach((k, w) -> assertThat(r.buffers().get(k).data().asFloat())
          .as(site + " " + k).containsExactly(w.data().asFloat()));
    });
  }

  @Test
  void variantsWhoseStateCannotBeCapturedAreRefusedBeforeTraining() {
    TrainConfig train = TrainConfig.of(4, 1e-2, 3);
    for (AdapterConfig cfg : List.<AdapterConfig>of(
        ReLora.Config.defaults().withRankAndAlpha(2, 4).withRestarts(2, 0),
        AdaLoraConfig.of(4, 2, 4, 1, 1, 1))) {
      assertThatThrownBy(() -> new Trainer(train).checkpoints(dir.resolve("x"), 2)
          .train(model(cfg), Objective.meanSquaredError(), TrainingResumeTest::batch))
          .as(cfg.getClass().getSimpleName())
          .isInstanceOf(IllegalStateException.class)
          .hasMessageContaining("keeps training state that a checkpoint cannot hold");
    }
  }
}
