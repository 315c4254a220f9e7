package dev.loraj.variants;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.loraj.core.adapter.AdapterConfig;
import dev.loraj.core.adapter.AdapterSpec;
import dev.loraj.core.lora.Combination;
import dev.loraj.core.lora.LoraConfig;
import dev.loraj.core.model.PeftModel;
import dev.loraj.core.model.Targets;
import dev.loraj.variants.continual.AttentionalMixtureLora;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@link Combination} keeps only A, B and the scale of each adapter, so it refuses every variant
 * with more state, naming the variant and what would be lost, and combines the LoRA-shaped ones.
 */
class CombinationRefusalTest {

  static final String PLAIN = "plain";

  /** A one-layer model with a plain LoRA adapter and one adapter of {@code variant}. */
  static PeftModel withVariant(String variant) {
    PeftModel pm = new PeftModel(Fixtures.oneLayer(16, 12, 3), Fixtures.REGISTRY);
    pm.addAdapter(PLAIN, new AdapterSpec(LoraConfig.of(2, 4), Targets.allLinear()), 1);
    AdapterConfig config = Fixtures.REGISTRY.get(variant).defaultConfig().withRankAndAlpha(2, 4);
    if (config instanceof AttentionalMixtureLora.Config am) {
      config = am.withPrevious(List.of(PLAIN)); // gates only exist with an earlier task
    }
    pm.addAdapter(variant, new AdapterSpec(config, Targets.allLinear()), 2);
    return pm;
  }

  @ParameterizedTest(name = "{0} is refused")
  @ValueSource(strings = {"dora", "delta-lora", "relora", "am-lora", "adalora", "vera", "intrinsic"})
  void variantsWithStateBeyondAAndBAreRefused(String variant) {
    PeftModel pm = withVariant(variant);
    assertThatThrownBy(() -> Combination.combine(pm, "combined", List.of(PLAIN, variant), List.of(1.0, 1.0),
        Combination.Method.of(Combination.Type.CAT, 0)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("adapter '" + variant + "' (variant '" + variant + "')")
        .hasMessageContaining("cannot be combined");
    assertThat(pm.adapterNames()).doesNotContain("combined");
  }

  @ParameterizedTest(name = "{0} is combined")
  @ValueSource(strings = {"rslora", "loraplus", "lora-fa", "o-lora", "pissa"})
  void loraShapedVariantsAreCombinedExactlyByCat(String variant) {
    PeftModel pm = withVariant(variant);
    Combination.combine(pm, "combined", List.of(PLAIN, variant), List.of(0.5, -2.0),
        Combination.Method.of(Combination.Type.CAT, 0));
    var site = pm.adapter(variant).sites().keySet().iterator().next();
    var expected = pm.adapter(PLAIN).sites().get(site).deltaWeight().mul(0.5)
        .add(pm.adapter(variant).sites().get(site).deltaWeight().mul(-2.0));
    assertThat(pm.adapter("combined").sites().get(site).deltaWeight().equalsWithEps(expected, 1e-5)).isTrue();
  }
}
