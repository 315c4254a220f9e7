package dev.loraj.core.lora;

import dev.loraj.core.testing.ExactArrays;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.loraj.core.adapter.AdapterRegistry;
import dev.loraj.core.adapter.AdapterSpec;
import dev.loraj.core.adapter.ConfigCodec;
import dev.loraj.core.model.MlpModel;
import dev.loraj.core.model.PeftModel;
import dev.loraj.core.model.Targets;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.ndarray.INDArray;

class LoraTest {

  final AdapterRegistry registry = AdapterRegistry.discover();

  PeftModel model(LoraConfig cfg, Targets t) {
    MlpModel base = MlpModel.random(List.of(64, 48, 10), MlpModel.Activation.RELU, true, 3);
    PeftModel pm = new PeftModel(base, registry);
    pm.addAdapter("default", new AdapterSpec(cfg, t), 42);
    return pm;
  }

  LoraAdapter site(PeftModel pm, String path) {
    return (LoraAdapter) pm.adapter("default").sites().get(path);
  }

  @Test
  void kaimingUniformInitMatchesPeftDefault() {
    // PEFT: A ~ kaiming_uniform(a = sqrt 5) = U(-1/sqrt(in), 1/sqrt(in)), B = 0 (docs/variants.md, LoRA)
    PeftModel pm = model(LoraConfig.of(16, 16), Targets.of("layers.0"));
    LoraAdapter a = site(pm, "layers.0");
    double bound = 1 / Math.sqrt(64);
    assertThat(a.a().amaxNumber().doubleValue()).isLessThanOrEqualTo(bound).isGreaterThan(0.95 * bound);
    // U(-b, b) has variance b^2/3; 1024 draws: the sample variance is within 10%
    double var = a.a().varNumber().doubleValue();
    assertThat(var).isCloseTo(bound * bound / 3, org.assertj.core.data.Percentage.withPercentage(10));
    assertThat(a.b().amaxNumber().doubleValue()).isZero();
  }

  @Test
  void gaussianInitHasStdOneOverRank() {
    PeftModel pm = model(LoraConfig.of(8, 8).withInit(LoraConfig.Init.GAUSSIAN), Targets.of("layers.0"));
    double std = site(pm, "layers.0").a().stdNumber().doubleValue();
    assertThat(std).isCloseTo(1.0 / 8, org.assertj.core.data.Percentage.withPercentage(10));
  }

  @Test
  void scalingIsAlphaOverRankOrOverSqrtRank() {
    assertThat(LoraConfig.of(16, 32).scaling()).isEqualTo(2.0);
    assertThat(LoraConfig.of(16, 32).withRslora(true).scaling()).isEqualTo(8.0);
  }

  @Test
  void deltaWeightIsScaledBA() {
    PeftModel pm = model(LoraConfig.of(4, 8), Targets.of("layers.0"));
    LoraAdapter a = site(pm, "layers.0");
    a.b().assign(org.nd4j.linalg.factory.Nd4j.rand(a.b().dataType(), a.b().shape()));
    INDArray expected = a.b().mmul(a.a()).mul(2.0); // s = 8/4
    assertThat(a.deltaWeight().equalsWithEps(expected, 1e-6)).isTrue();
  }

  @Test
  void sameSeedSameNumbers() {
    INDArray a1 = site(model(LoraConfig.of(4, 8), Targets.of("layers.0")), "layers.0").a();
    INDArray a2 = site(model(LoraConfig.of(4, 8), Targets.of("layers.0")), "layers.0").a();
    ExactArrays.assertBitIdentical(a1, a2, "a1");
  }

  @Test
  void rankPatternAndAlphaPatternGiveOneModuleItsOwnValues() {
    Targets t = Targets.allLinear().withRankPattern(Map.of("layers.0", 2)).withAlphaPattern(Map.of("layers.0", 6.0));
    MlpModel base = MlpModel.random(List.of(64, 48, 32, 10), MlpModel.Activation.RELU, true, 3);
    PeftModel pm = new PeftModel(base, registry);
    pm.addAdapter("default", new AdapterSpec(LoraConfig.of(8, 16), t), 1);
    LoraAdapter l0 = (LoraAdapter) pm.adapter("default").sites().get("layers.0");
    LoraAdapter l1 = (LoraAdapter) pm.adapter("default").sites().get("layers.1");
    assertThat(l0.rank()).isEqualTo(2);
    assertThat(l0.scaling()).isEqualTo(3.0);
    assertThat(l1.rank()).isEqualTo(8);
    assertThat(l1.scaling()).isEqualTo(2.0);
    assertThat(pm.adapter("default").sites()).doesNotContainKey("head");
  }

  // ------------------------------------------------------------ bad input: one clear message each

  @Test
  void rankMustBePositive() {
    assertThatThrownBy(() -> LoraConfig.of(0, 8)).hasMessage("rank = 0: must be a positive integer");
    assertThatThrownBy(() -> LoraConfig.of(-2, 8)).hasMessageContaining("rank = -2");
  }

  @Test
  void alphaMustBePositive() {
    assertThatThrownBy(() -> LoraConfig.of(4, 0)).hasMessage("alpha = 0.0: must be a finite number > 0");
    assertThatThrownBy(() -> LoraConfig.of(4, Double.NaN)).hasMessageContaining("alpha = NaN");
  }

  @Test
  void rankLargerThanMatrixIsRefusedNamingTheModule() {
    assertThatThrownBy(() -> model(LoraConfig.of(49, 8), Targets.of("layers.0")))
        .hasMessageContaining("rank = 49 is larger than min(in, out) = 48 of module 'layers.0'");
  }

  @Test
  void unknownTargetListsAvailableModules() {
    assertThatThrownBy(() -> model(LoraConfig.of(4, 8), Targets.of("query")))
        .hasMessageContaining("target_modules entry 'query' matches no linear module")
        .hasMessageContaining("layers.0");
  }

  @Test
  void unknownPatternKeyIsAnError() {
    Targets t = Targets.allLinear().withRankPattern(Map.of("attention", 2));
    assertThatThrownBy(() -> model(LoraConfig.of(4, 8), t))
        .hasMessageContaining("rank_pattern key 'attention' matches no targeted module");
  }

  @Test
  void unknownVariantNameListsRegisteredOnes() {
    ConfigCodec codec = new ConfigCodec(registry);
    assertThatThrownBy(() -> codec.fromJson("{\"type\": \"lorax\", \"rank\": 4}"))
        .hasMessageContaining("unknown variant 'lorax'; did you mean 'lora'?; registered variants: [")
        .hasMessageContaining("lora");
  }

  @Test
  void unknownConfigFieldIsNamed() {
    ConfigCodec codec = new ConfigCodec(registry);
    assertThatThrownBy(() -> codec.fromJson("{\"type\": \"lora\", \"rnak\": 4}"))
        .hasMessageContaining("unknown field 'rnak' for variant 'lora'");
  }

  @Test
  void invalidValueInConfigFileIsExplained() {
    ConfigCodec codec = new ConfigCodec(registry);
    assertThatThrownBy(() -> codec.fromYaml("type: lora\nrank: -1\n"))
        .hasMessageContaining("rank = -1: must be a positive integer");
  }

  @Test
  void partialConfigTakesDefaults() {
    ConfigCodec codec = new ConfigCodec(registry);
    LoraConfig c = (LoraConfig) codec.fromYaml("type: lora\nrank: 16\nuse_rslora: true\n");
    assertThat(c).isEqualTo(LoraConfig.defaults().withRankAndAlpha(16, 8).withRslora(true));
  }
}
