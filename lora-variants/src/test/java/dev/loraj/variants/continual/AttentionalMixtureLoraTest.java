package dev.loraj.variants.continual;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import dev.loraj.core.adapter.AdapterRegistry;
import dev.loraj.core.adapter.AdapterSpec;
import dev.loraj.core.lora.Fill;
import dev.loraj.core.lora.LoraAdapter;
import dev.loraj.core.lora.LoraConfig;
import dev.loraj.core.model.MlpModel;
import dev.loraj.core.model.PeftModel;
import dev.loraj.core.model.Targets;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.ndarray.INDArray;

class AttentionalMixtureLoraTest {

  private static PeftModel modelWithTwoTrainedLoras() {
    PeftModel model = new PeftModel(MlpModel.random(List.of(6, 5, 4), MlpModel.Activation.TANH, true, 3),
        AdapterRegistry.discover());
    Targets t = Targets.of("layers.0");
    for (String n : List.of("t0", "t1")) {
      model.addAdapter(n, new AdapterSpec(LoraConfig.of(2, 4), t), n.hashCode());
      LoraAdapter la = (LoraAdapter) model.adapter(n).sites().get("layers.0");
      la.b().assign(Fill.normal(new long[] {5, 2}, 0.5, new SplittableRandom(n.hashCode())));
    }
    return model;
  }

  /** Gates start at 1 and the new B at 0: the mixture equals the plain sum of the earlier LoRAs. */
  @Test
  void atInitTheMixtureIsTheSumOfEarlierLoras() {
    PeftModel model = modelWithTwoTrainedLoras();
    INDArray x = Fill.normal(new long[] {7, 6}, 1.0, new SplittableRandom(1));
    model.setActive("t0", "t1");
    INDArray sum = model.output(Map.of("x", x));
    model.addAdapter("t2", new AdapterSpec(AttentionalMixtureLora.Config.defaults().withRankAndAlpha(2, 4)
        .withPrevious(List.of("t0", "t1")), Targets.of("layers.0")), 5);
    model.setActive("t2");
    INDArray mixed = model.output(Map.of("x", x));
    assertThat(mixed.sub(sum).amaxNumber().doubleValue()).isLessThan(1e-5);
    // L1 term at init: l1 * mean_n sum_i g_i = l1 * T with every gate 1
    PeftModel.Built b = model.build(true, null);
    String reg0 = b.regularization().name();
    double reg = b.sd().output(Map.of("x", x), reg0).get(reg0).getDouble(0);
    assertThat(reg).isCloseTo(0.01 * 3, within(1e-6));
  }

  @Test
  void countsAndMergeRules() {
    PeftModel model = modelWithTwoTrainedLoras();
    AttentionalMixtureLora.Config c = AttentionalMixtureLora.Config.defaults().withRankAndAlpha(2, 4)
        .withPrevious(List.of("t0", "t1"));
    model.addAdapter("t2", new AdapterSpec(c, Targets.of("layers.0")), 5);
    var ad = model.adapter("t2").sites().get("layers.0");
    long params = ad.parameters().values().stream().mapToLong(INDArray::length).sum();
    assertThat(params).isEqualTo(new AttentionalMixtureLora().trainableParameters(c, ad.site()));
    assertThatThrownBy(ad::deltaWeight).isInstanceOf(UnsupportedOperationException.class)
        .hasMessageContaining("input-dependent");
  }
}
