package dev.loraj.variants.qlora;

import dev.loraj.core.testing.ExactArrays;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import dev.loraj.core.adapter.AdapterSpec;
import dev.loraj.core.adapter.ConfigCodec;
import dev.loraj.core.lora.Fill;
import dev.loraj.core.lora.LoraConfig;
import dev.loraj.core.model.MlpModel;
import dev.loraj.core.model.PeftModel;
import dev.loraj.core.model.Targets;
import dev.loraj.core.quant.QuantFormat;
import dev.loraj.core.quant.QuantizedBase;
import dev.loraj.core.quant.QuantizedWeight;
import dev.loraj.core.train.Objective;
import dev.loraj.core.train.TrainConfig;
import dev.loraj.core.train.Trainer;
import dev.loraj.variants.Fixtures;
import dev.loraj.variants.dora.DoraConfig;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.ndarray.INDArray;

class QLoraTest {

  static final List<Integer> WIDTHS = List.of(32, 96, 64, 8);

  static MlpModel model() {
    return MlpModel.random(WIDTHS, MlpModel.Activation.GELU, true, 9);
  }

  static Map<String, INDArray> batch(long seed) {
    Map<String, INDArray> b = new LinkedHashMap<>();
    b.put("x", Fill.normal(new long[] {8, WIDTHS.get(0)}, 1.0, new SplittableRandom(seed)));
    b.put("targets", Fill.normal(new long[] {8, WIDTHS.get(WIDTHS.size() - 1)}, 1.0, new SplittableRandom(seed + 1)));
    return b;
  }

  static Map<String, INDArray> inputs(long seed) {
    return Map.of("x", batch(seed).get("x"));
  }

  static double maxAbsDiff(INDArray a, INDArray b) {
    return a.sub(b).amaxNumber().doubleValue();
  }

  static PeftModel withAdapter(MlpModel m, Object config) {
    PeftModel pm = new PeftModel(m, Fixtures.REGISTRY);
    pm.addAdapter("default", new AdapterSpec((dev.loraj.core.adapter.AdapterConfig) config, Targets.allLinear()), 11);
    return pm;
  }

  @Test
  void defaultsAreThePapersAndTheConfigRoundTrips() {
    QLoraConfig d = new QLora().defaultConfig();
    assertThat(d.rank()).isEqualTo(64);
    assertThat(d.alpha()).isEqualTo(16);
    assertThat(d.format()).isEqualTo(QuantFormat.NF4);
    assertThat(d.blockSize()).isEqualTo(64);
    assertThat(d.doubleQuant()).isTrue();
    assertThat(new LoftQ().defaultConfig().loftqIter()).isEqualTo(1);
    ConfigCodec codec = new ConfigCodec(Fixtures.REGISTRY);
    String json = codec.toJson(d);
    assertThat(json).contains("\"format\" : \"nf4\"").contains("\"block_size\" : 64").contains("\"double_quant\" : true");
    QLoraConfig fp4 = (QLoraConfig) codec.fromYaml("type: qlora\nrank: 8\nformat: FP4\ndouble_quant: false\n");
    assertThat(fp4.format()).isEqualTo(QuantFormat.FP4);
    assertThat(fp4.alpha()).isEqualTo(16);
    assertThatThrownBy(() -> codec.fromYaml("type: qlora\nformat: nf3\n")).hasStackTraceContaining("accepted nf4, fp4, int4, int8");
    assertThatThrownBy(() -> d.withQuantization(QuantFormat.NF4, 0, true)).hasMessageContaining("block_size = 0");
    assertThatThrownBy(() -> LoftQConfig.defaults().withIterations(0)).hasMessageContaining("loftq_iter = 0");
  }

  /**
   * The qlora variant: its sites hold NF4 weights and no float copy; the output at init equals
   * the quantized base's exactly (B = 0), not the original model's; training moves A and B and
   * never the codes.
   */
  @Test
  void qloraQuantizesItsSitesAndIsIdentityRelativeToTheQuantizedBase() {
    MlpModel m = model();
    Map<String, INDArray> in = inputs(1);
    INDArray original = new PeftModel(m, Fixtures.REGISTRY).output(in);
    PeftModel pm = withAdapter(m, QLoraConfig.defaults().withRankAndAlpha(8, 16));
    assertThat(m.weights()).doesNotContainKeys("layers.0.weight", "layers.1.weight").containsKey("head.weight");
    QuantizedWeight q0 = m.quantizedWeights().get("layers.0.weight");
    assertThat(q0.format()).isEqualTo(QuantFormat.NF4);
    assertThat(q0.blockSize()).isEqualTo(64);
    assertThat(q0.doubleQuantized()).isTrue();
    byte[] codes = q0.codes();

    INDArray atInit = pm.output(in);
    pm.disableAdapters();
    INDArray quantizedBase = pm.output(in);
    pm.enableAdapters();
    assertThat(maxAbsDiff(atInit, quantizedBase)).isLessThanOrEqualTo(1e-6);
    assertThat(maxAbsDiff(atInit, original)).as("NF4 changes the model").isGreaterThan(1e-4);

    new Trainer(TrainConfig.of(4, 1e-2, 3)).train(pm, Objective.meanSquaredError(), (s, mb) -> batch(50 + s));
    assertThat(m.quantizedWeights().get("layers.0.weight")).isSameAs(q0);
    assertThat(q0.codes()).containsExactly(codes);
    assertThat(maxAbsDiff(pm.output(in), atInit)).as("the adapter trained").isGreaterThan(1e-4);
  }

  /** A failure at a later site puts back the dense weights already replaced by quantized ones. */
  @Test
  void failedCreationRestoresTheDenseBase() {
    MlpModel m = MlpModel.random(List.of(32, 96, 16, 8), MlpModel.Activation.GELU, false, 2);
    Map<String, INDArray> before = new LinkedHashMap<>(m.weights());
    PeftModel pm = new PeftModel(m, Fixtures.REGISTRY);
    AdapterSpec spec = new AdapterSpec(QLoraConfig.defaults().withRankAndAlpha(12, 16), Targets.allLinear());
    assertThatThrownBy(() -> pm.addAdapter("default", spec, 1)).hasMessageContaining("rank = 12");
    assertThat(m.quantizedWeights()).isEmpty();
    assertThat(m.weights().keySet()).containsExactlyInAnyOrderElementsOf(before.keySet());
    before.forEach((k, v) -> assertThat(m.weights().get(k)).as(k).isSameAs(v));
  }

  /**
   * A qlora adapter on a site that is already NF4 requantizes the dequantized weight: the codes
   * come back unchanged; with double quantization the block scales may move by the
   * second-level rounding, measured here.
   */
  @Test
  void requantizingADequantizedWeightIsNearlyIdempotent() {
    INDArray w = Fill.normal(new long[] {256, 256}, 0.02, new SplittableRandom(8));
    for (boolean dq : new boolean[] {false, true}) {
      QuantizedWeight once = QuantizedWeight.quantize(w, QuantFormat.NF4, 64, dq);
      QuantizedWeight twice = QuantizedWeight.quantize(once.dequantize(), QuantFormat.NF4, 64, dq);
      double drift = maxAbsDiff(twice.dequantize(), once.dequantize()) / w.amaxNumber().doubleValue();
      System.out.printf("NF4 requantization (double quant %s): codes equal %s, max drift %.2e of max|W|%n",
          dq, java.util.Arrays.equals(once.codes(), twice.codes()), drift);
      assertThat(twice.codes()).containsExactly(once.codes());
      assertThat(drift).isLessThan(dq ? 1e-3 : 1e-7);
    }
  }

  /** Composition: quantizing the base and adding plain LoRA is the qlora variant, bit for bit. */
  @Test
  void quantizedBasePlusLoraEqualsTheQloraVariant() {
    MlpModel a = model();
    PeftModel viaVariant = withAdapter(a, QLoraConfig.defaults().withRankAndAlpha(8, 16));
    MlpModel b = model();
    PeftModel composed = new PeftModel(b, Fixtures.REGISTRY);
    QuantizedBase.quantizeNf4(composed, Targets.allLinear());
    composed.addAdapter("default", new AdapterSpec(LoraConfig.of(8, 16), Targets.allLinear()), 11);
    for (PeftModel pm : List.of(viaVariant, composed)) {
      new Trainer(TrainConfig.of(3, 1e-2, 3)).train(pm, Objective.meanSquaredError(), (s, mb) -> batch(70 + s));
    }
    Map<String, INDArray> in = inputs(2);
    ExactArrays.assertBitIdentical(viaVariant.output(in), composed.output(in), "qlora variant vs quantized base + LoRA");
  }

  /**
   * QDoRA falls out of the composition: DoRA on an NF4 base is unchanged at init relative to
   * that base and trains; its weight norm sees the dequantized W (a graph constant, the one
   * place a float copy is made).
   */
  @Test
  void doraOnAQuantizedBaseIsQdora() {
    MlpModel m = model();
    PeftModel pm = new PeftModel(m, Fixtures.REGISTRY);
    QuantizedBase.quantizeNf4(pm, Targets.allLinear());
    Map<String, INDArray> in = inputs(5);
    INDArray base = pm.output(in);
    pm.addAdapter("qdora", new AdapterSpec(DoraConfig.of(8, 16), Targets.allLinear()), 11);
    assertThat(maxAbsDiff(pm.output(in), base)).isLessThanOrEqualTo(1e-5);
    QuantizedWeight q = m.quantizedWeights().get("layers.1.weight");
    var result = new Trainer(TrainConfig.of(4, 1e-2, 3)).train(pm, Objective.meanSquaredError(), (s, mb) -> batch(90 + s));
    assertThat(result.losses()).allSatisfy(l -> assertThat(l).isFinite());
    assertThat(m.quantizedWeights().get("layers.1.weight")).isSameAs(q);
    assertThat(maxAbsDiff(pm.output(in), base)).isGreaterThan(1e-4);
  }

  /**
   * Storage per parameter, measured on a 1024 x 1024 weight at block 64, against the closed
   * form {@code bits + 32/64} (fp32 absmax) or {@code bits + 8/64 + 32/(64*256) + 32/n}
   * (double quantization: byte codes, fp32 scale per 256 blocks, one fp32 offset).
   */
  @Test
  void bitsPerParameterPerFormat() {
    INDArray w = Fill.normal(new long[] {1024, 1024}, 0.02, new SplittableRandom(4));
    double n = 1024.0 * 1024;
    System.out.println("format  bits/param  (double quant)");
    for (QuantFormat f : java.util.Arrays.stream(QuantFormat.values()).filter(QuantFormat::blockwise).toList()) {
      double plain = QuantizedWeight.quantize(w, f, 64, false).bitsPerParameter();
      double dq = QuantizedWeight.quantize(w, f, 64, true).bitsPerParameter();
      System.out.printf("%-6s  %.4f      %.4f%n", f.json(), plain, dq);
      assertThat(plain).isEqualTo(f.bits() + 32.0 / 64);
      assertThat(dq).isCloseTo(f.bits() + 8.0 / 64 + 32.0 / (64 * 256) + 32 / n, within(1e-9));
    }
  }
}
