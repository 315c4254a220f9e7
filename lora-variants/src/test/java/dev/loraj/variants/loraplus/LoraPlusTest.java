package dev.loraj.variants.loraplus;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import dev.loraj.core.adapter.AdapterConfig;
import dev.loraj.core.lora.Fill;
import dev.loraj.core.lora.LoraAdapter;
import dev.loraj.core.lora.LoraConfig;
import dev.loraj.core.model.MlpModel;
import dev.loraj.core.model.PeftModel;
import dev.loraj.core.train.Objective;
import dev.loraj.core.train.TrainConfig;
import dev.loraj.core.train.Trainer;
import dev.loraj.variants.Fixtures;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.ndarray.INDArray;

/** LoRA+'s eta_B = lambda eta_A (arXiv 2402.12354, section 4). */
class LoraPlusTest {

  static final double LR = 1e-3;

  @Test
  void defaultRatioIsSixteenAndBelowOneIsRefused() {
    assertThat(LoraPlus.Config.defaults().lrRatio()).isEqualTo(16.0);
    assertThatThrownBy(() -> LoraPlus.Config.defaults().withLrRatio(0.5))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("lr_ratio = 0.5");
    assertThatThrownBy(() -> LoraPlus.Config.defaults().withLrRatio(Double.NaN))
        .hasMessageContaining("lr_ratio = NaN");
  }

  @Test
  void graphCarriesTheMultiplierOnBOnly() {
    PeftModel pm = Fixtures.peft(Fixtures.oneLayer(6, 4, 1), LoraPlus.Config.defaults().withRankAndAlpha(2, 2), 3);
    Map<String, Double> byKey = new LinkedHashMap<>();
    pm.build(true, null).trainable().forEach(v -> byKey.put(v.key(), v.lrMultiplier()));
    assertThat(byKey).containsEntry("lora_A.weight", 1.0).containsEntry("lora_B.weight", 16.0);
  }

  /**
   * Adam's first step is {@code lr * g / (|g| + eps)} per entry, linear in the learning rate.
   * From the same state and batch, LoRA+'s first step on B must be exactly lambda times plain
   * LoRA's, and its step on A equal to LoRA's; each B entry moves by ~ lambda * lr.
   */
  @Test
  void firstAdamStepOfBIsRatioTimesLoras() {
    double ratio = 4;
    MlpModel base = Fixtures.oneLayer(6, 5, 1);
    LoraAdapter plus = stepOnce(base, LoraPlus.Config.defaults().withRankAndAlpha(3, 3).withLrRatio(ratio));
    LoraAdapter lora = stepOnce(base, LoraConfig.of(3, 3));
    LoraAdapter fresh = Fixtures.site(Fixtures.peft(base, LoraConfig.of(3, 3), 7), "default");
    INDArray start = fresh.a().dup(); // both runs start from this A (same seed and site)
    INDArray startB = startB();
    INDArray dAplus = plus.a().sub(start);
    INDArray dAlora = lora.a().sub(start);
    INDArray dBplus = plus.b().sub(startB);
    INDArray dBlora = lora.b().sub(startB);
    assertThat(Fixtures.maxAbsDiff(dAplus, dAlora)).isLessThanOrEqualTo(1e-9);
    // B ~ 0.5 is stored in float (ulp 6e-8): a few ulps of rounding, vs steps of 4e-3
    assertThat(Fixtures.maxAbsDiff(dBplus, dBlora.mul(ratio))).isLessThanOrEqualTo(1e-6);
    // sign-like first step: |dA| ~ lr, |dB| ~ ratio * lr for entries with |g| >> eps
    assertThat(dAplus.amaxNumber().doubleValue()).isCloseTo(LR, within(LR * 1e-3));
    assertThat(dBplus.amaxNumber().doubleValue()).isCloseTo(ratio * LR, within(ratio * LR * 1e-3));
  }

  private static INDArray startB() {
    return Fill.normal(new long[] {5, 3}, 0.5, new SplittableRandom(42));
  }

  /** One Adam step from A = LoRA's init, B = a fixed nonzero matrix (so A has a gradient too). */
  private static LoraAdapter stepOnce(MlpModel base, AdapterConfig config) {
    PeftModel pm = Fixtures.peft(base, config, 7);
    LoraAdapter ad = Fixtures.site(pm, "default");
    ad.b().assign(startB());
    new Trainer(TrainConfig.of(1, LR, 3)).train(pm, Objective.meanSquaredError(), (s, micro) -> {
      Map<String, INDArray> batch = new LinkedHashMap<>(Fixtures.randomX(8, 6, 10));
      batch.put("targets", Fill.normal(new long[] {8, 5}, 1.0, new SplittableRandom(11)));
      return batch;
    });
    return ad;
  }
}
