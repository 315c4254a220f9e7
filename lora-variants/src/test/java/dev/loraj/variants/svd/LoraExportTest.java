package dev.loraj.variants.svd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.loraj.core.adapter.AdapterConfig;
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
import dev.loraj.core.train.Trainer;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Export to plain LoRA: the original base plus the exported adapter gives the outputs of the
 * residual base plus the trained adapter (PEFT's PiSSA-to-LoRA conversion test).
 */
class LoraExportTest {

  static final AdapterRegistry REGISTRY = AdapterRegistry.discover();

  static Map<String, INDArray> inputs(int in, long seed) {
    return Map.of("x", Fill.normal(new long[] {6, in}, 1.0, new SplittableRandom(seed)));
  }

  static Map<String, INDArray> batch(List<Integer> widths, long seed) {
    Map<String, INDArray> b = new LinkedHashMap<>(inputs(widths.get(0), seed));
    b.put("targets", Fill.normal(new long[] {6, widths.get(widths.size() - 1)}, 1.0, new SplittableRandom(seed + 1)));
    return b;
  }

  static Stream<AdapterConfig> configs() {
    return Stream.of(
        PissaConfig.defaults().withRankAndAlpha(4, 8),
        PissaConfig.defaults().withRankAndAlpha(4, 8).withRslora(true),
        PissaConfig.defaults().withRankAndAlpha(4, 4).withRandomizedSvd(2),
        MiloraConfig.defaults().withRankAndAlpha(4, 2),
        OloraConfig.defaults().withRankAndAlpha(4, 8),
        CordaConfig.defaults().withRankAndAlpha(4, 8),
        CordaConfig.defaults().withRankAndAlpha(4, 8).withMethod(CordaInit.Mode.KPM));
  }

  /** Trains {@code spec} on a residual base, exports, and compares with the original base. */
  static void checkExport(List<Integer> widths, AdapterSpec spec) {
    MlpModel base = MlpModel.random(widths, MlpModel.Activation.GELU, true, 7);
    Map<String, INDArray> original = new LinkedHashMap<>();
    base.weights().forEach((k, v) -> original.put(k, v.dup()));
    PeftModel pm = new PeftModel(base, REGISTRY);
    List<Map<String, INDArray>> calibration = new ArrayList<>();
    calibration.add(inputs(widths.get(0), 40));
    calibration.add(inputs(widths.get(0), 41));
    pm.calibrate(calibration);
    pm.addAdapter("res", spec, 3);
    new Trainer(TrainConfig.of(4, 2e-2, 5)).train(pm, Objective.meanSquaredError(), (s, m) -> batch(widths, 50 + s));
    Map<String, INDArray> in = inputs(widths.get(0), 99);
    INDArray trained = pm.output(in);

    LoraExport export = LoraExport.of(pm.adapter("res"));
    PeftModel plain = new PeftModel(base.withWeights(original), REGISTRY);
    plain.putAdapter("lora", export.spec(), export.sites());
    INDArray converted = plain.output(in);
    assertThat(TestSite.maxAbs(converted, trained)).as("original base + exported LoRA").isLessThanOrEqualTo(1e-5);
    // the adapter really moved during training, so the check is not vacuous
    assertThat(TestSite.maxAbs(trained, new PeftModel(base.withWeights(original), REGISTRY).output(in)))
        .isGreaterThan(1e-3);
  }

  @ParameterizedTest
  @MethodSource("configs")
  void originalBasePlusExportedLoraEqualsResidualBasePlusTrainedAdapter(AdapterConfig cfg) {
    checkExport(List.of(16, 24, 12, 5), new AdapterSpec(cfg, Targets.allLinear()));
  }

  @Test
  void exportedConfigDoublesRankAndKeepsTheScaling() {
    LoraConfig plain = ResidualLoraAdapter.exportedConfig(PissaConfig.defaults());
    assertThat(plain.rank()).isEqualTo(16);
    assertThat(plain.alpha()).isEqualTo(16);
    assertThat(plain.scaling()).isEqualTo(PissaConfig.defaults().scaling());
    PissaConfig rs = PissaConfig.defaults().withRankAndAlpha(8, 16).withRslora(true);
    LoraConfig plainRs = ResidualLoraAdapter.exportedConfig(rs);
    assertThat(plainRs.alpha()).isEqualTo(16 * Math.sqrt(2));
    assertThat(plainRs.scaling()).isCloseTo(rs.scaling(), org.assertj.core.data.Offset.offset(1e-12));
  }

  @Test
  void rankPatternsAreDoubledAndRankAboveMinDimIsAllowed() {
    // layers.1 is [3, 5]: rank 2 exports to rank 4 > min(in, out) = 3, still exact
    Targets t = Targets.allLinear().withRankPattern(Map.of("layers.0", 3)).withAlphaPattern(Map.of("layers.0", 6.0));
    AdapterSpec spec = new AdapterSpec(PissaConfig.defaults().withRankAndAlpha(2, 4), t);
    checkExport(List.of(8, 5, 3, 2), spec);

    MlpModel base = MlpModel.random(List.of(8, 5, 3, 2), MlpModel.Activation.GELU, true, 7);
    PeftModel pm = new PeftModel(base, REGISTRY);
    pm.addAdapter("res", spec, 3);
    LoraExport export = LoraExport.of(pm.adapter("res"));
    assertThat(export.spec().config().rank()).isEqualTo(4);
    assertThat(export.spec().config().alpha()).isEqualTo(8);
    assertThat(export.spec().targets().rankPattern()).containsEntry("layers.0", 6);
    assertThat(export.spec().targets().alphaPattern()).containsEntry("layers.0", 12.0);
    assertThat(((LoraAdapter) export.sites().get("layers.0")).rank()).isEqualTo(6);
    assertThat(((LoraAdapter) export.sites().get("layers.1")).rank()).isEqualTo(4);
  }

  @Test
  void plainLoraAdaptersAreNotExported() {
    PeftModel pm = new PeftModel(MlpModel.random(List.of(8, 5, 3), MlpModel.Activation.GELU, true, 7), REGISTRY);
    pm.addAdapter("lora", new AdapterSpec(LoraConfig.of(2, 4), Targets.allLinear()), 3);
    assertThatThrownBy(() -> LoraExport.of(pm.adapter("lora"))).hasMessageContaining("pissa, milora, olora and corda");
  }
}
