package dev.loraj.variants.lorafa;

import dev.loraj.core.testing.ExactArrays;
import static org.assertj.core.api.Assertions.assertThat;

import dev.loraj.core.lora.Fill;
import dev.loraj.core.lora.LoraAdapter;
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

/** LoRA-FA: A frozen at init, B trained (arXiv 2308.03303, section 3). */
class LoraFaTest {

  @Test
  void aIsABufferAndOnlyBIsTrainable() {
    PeftModel pm = Fixtures.peft(Fixtures.oneLayer(9, 5, 1), LoraFa.Config.defaults().withRankAndAlpha(3, 6), 2);
    LoraAdapter ad = Fixtures.site(pm, "default");
    assertThat(ad.parameters().keySet()).containsExactly("lora_B.weight");
    assertThat(ad.buffers().keySet()).containsExactly("lora_A.weight");
    assertThat(pm.trainableParameters()).isEqualTo(3 * 5);
    assertThat(pm.build(true, null).trainable()).extracting(PeftModel.TrainableVar::key)
        .containsExactly("lora_B.weight");
  }

  @Test
  void aIsUnchangedAndBLearnsDuringTraining() {
    PeftModel pm = Fixtures.peft(Fixtures.oneLayer(9, 5, 1), LoraFa.Config.defaults().withRankAndAlpha(3, 6), 2);
    LoraAdapter ad = Fixtures.site(pm, "default");
    INDArray a0 = ad.a().dup();
    assertThat(a0.amaxNumber().doubleValue()).isGreaterThan(0.0); // A is random, not zero
    var result = new Trainer(TrainConfig.of(20, 5e-2, 3)).train(pm, Objective.meanSquaredError(), (s, micro) -> {
      Map<String, INDArray> batch = new LinkedHashMap<>(Fixtures.randomX(16, 9, 10));
      batch.put("targets", Fill.normal(new long[] {16, 5}, 1.0, new SplittableRandom(11)));
      return batch;
    });
    ExactArrays.assertBitIdentical(ad.a(), a0, "frozen A");
    assertThat(ad.b().amaxNumber().doubleValue()).isGreaterThan(1e-3);
    assertThat(result.losses().get(result.losses().size() - 1)).isLessThan(result.losses().get(0));
  }
}
