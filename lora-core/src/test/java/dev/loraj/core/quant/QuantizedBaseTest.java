package dev.loraj.core.quant;

import dev.loraj.core.testing.ExactArrays;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.loraj.core.adapter.AdapterRegistry;
import dev.loraj.core.adapter.AdapterSpec;
import dev.loraj.core.lora.Fill;
import dev.loraj.core.lora.LoraAdapter;
import dev.loraj.core.lora.LoraConfig;
import dev.loraj.core.model.BaseModel;
import dev.loraj.core.model.LinearSite;
import dev.loraj.core.model.MlpModel;
import dev.loraj.core.model.ModelGraph;
import dev.loraj.core.model.ModelOutput;
import dev.loraj.core.model.PeftModel;
import dev.loraj.core.model.Targets;
import dev.loraj.core.train.Objective;
import dev.loraj.core.train.TrainConfig;
import dev.loraj.core.train.Trainer;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.ndarray.INDArray;

/** A quantized base composed with plain LoRA: memory, graph, training, merge and export. */
class QuantizedBaseTest {

  static final AdapterRegistry REGISTRY = AdapterRegistry.discover();
  static final List<Integer> WIDTHS = List.of(32, 128, 64, 8);

  static MlpModel model() {
    return MlpModel.random(WIDTHS, MlpModel.Activation.GELU, true, 5);
  }

  static Map<String, INDArray> batch(long seed) {
    Map<String, INDArray> b = new LinkedHashMap<>();
    b.put("x", Fill.normal(new long[] {10, WIDTHS.get(0)}, 1.0, new SplittableRandom(seed)));
    b.put("targets", Fill.normal(new long[] {10, WIDTHS.get(WIDTHS.size() - 1)}, 1.0, new SplittableRandom(seed + 1)));
    return b;
  }

  static Map<String, INDArray> inputs(long seed) {
    return Map.of("x", batch(seed).get("x"));
  }

  static double maxAbsDiff(INDArray a, INDArray b) {
    return a.sub(b).amaxNumber().doubleValue();
  }

  /**
   * Quantizing an MLP of width 1024 removes its float weights from the model: only the biases
   * stay dense, the linear weights cost NF4's 4.127 bits per parameter.
   */
  @Test
  void quantizingAWidth1024MlpDropsTheFloatWeights() {
    MlpModel m = MlpModel.random(List.of(1024, 1024, 1024, 1024), MlpModel.Activation.RELU, false, 1);
    PeftModel pm = new PeftModel(m, REGISTRY);
    long denseBefore = QuantizedBase.denseBytes(m);
    int arraysBefore = m.weights().size();
    long params = m.parameterCount();

    List<String> done = QuantizedBase.quantizeNf4(pm, Targets.allLinear());

    long denseAfter = QuantizedBase.denseBytes(m);
    long quantized = QuantizedBase.quantizedBytes(m);
    assertThat(done).containsExactly("layers.0", "layers.1", "layers.2");
    assertThat(m.weights().keySet()).containsExactly("layers.0.bias", "layers.1.bias", "layers.2.bias");
    assertThat(arraysBefore).isEqualTo(6);
    assertThat(denseBefore).isEqualTo(4L * (3 * 1024 * 1024 + 3 * 1024));
    assertThat(denseAfter).isEqualTo(4L * 3 * 1024);
    // per weight: 2^20 / 2 code bytes + 16384 absmax codes + 64 fp32 second-level scales + offset
    assertThat(quantized).isEqualTo(3L * (512 * 1024 + 16384 + 64 * 4 + 4));
    assertThat(m.parameterCount()).isEqualTo(params);
    System.out.printf("width-1024 MLP: float weights %d -> %d bytes, quantized %d bytes; "
            + "model total %.2f -> %.2f MiB (%.2fx smaller)%n",
        denseBefore, denseAfter, quantized, denseBefore / 1048576.0,
        (denseAfter + quantized) / 1048576.0, denseBefore / (double) (denseAfter + quantized));
  }

  /**
   * LoRA on an NF4 base: unchanged output at init relative to the quantized base (not the
   * original one), gradients reach A and B, never the codes, and the same graph runs forward
   * (output) and backward (training).
   */
  @Test
  void loraOnAQuantizedBaseTrainsTheAdapterOnly() {
    MlpModel m = model();
    Map<String, INDArray> in = inputs(3);
    INDArray dense = new PeftModel(m, REGISTRY).output(in);
    PeftModel pm = new PeftModel(m, REGISTRY);
    QuantizedBase.quantizeNf4(pm, Targets.allLinear());
    INDArray quantizedOut = pm.output(in);
    Map<String, QuantizedWeight> q0 = new LinkedHashMap<>(m.quantizedWeights());
    Map<String, byte[]> codes0 = new LinkedHashMap<>();
    q0.forEach((k, v) -> codes0.put(k, v.codes()));
    assertThat(q0).containsOnlyKeys("layers.0.weight", "layers.1.weight"); // all-linear skips the head

    pm.addAdapter("default", new AdapterSpec(LoraConfig.of(4, 8), Targets.allLinear()), 11);
    assertThat(maxAbsDiff(pm.output(in), quantizedOut)).as("identity vs the quantized base").isLessThanOrEqualTo(1e-6);
    double quantizationShift = maxAbsDiff(quantizedOut, dense);
    assertThat(quantizationShift).as("NF4 moves the output").isGreaterThan(1e-4);

    LoraAdapter site0 = (LoraAdapter) pm.adapter("default").sites().get("layers.0");
    INDArray b0 = site0.b().dup();
    new Trainer(TrainConfig.of(3, 1e-2, 7)).train(pm, Objective.meanSquaredError(), (s, mb) -> batch(100 + s));
    assertThat(maxAbsDiff(site0.b(), b0)).as("B trained").isGreaterThan(0);
    q0.forEach((k, v) -> {
      assertThat(m.quantizedWeights().get(k)).isSameAs(v);
      assertThat(v.codes()).as("codes of %s", k).containsExactly(codes0.get(k));
    });
    assertThat(m.weights()).doesNotContainKeys("layers.0.weight", "layers.1.weight");
    System.out.printf("NF4 base: output shift from quantization %.5f (max |y| %.3f)%n",
        quantizationShift, dense.amaxNumber().doubleValue());
  }

  /**
   * Merge = dequantize, add, requantize (PEFT's behaviour for 4-bit layers); unmerge restores
   * the exact quantized weight; merge-and-unload exports float {@code deq(W) + dW} exactly.
   */
  @Test
  void mergeRequantizesUnmergeRestoresExportIsFloat() {
    MlpModel m = model();
    PeftModel pm = new PeftModel(m, REGISTRY);
    QuantizedBase.quantize(pm, QuantFormat.NF4, 64, true, Targets.allLinear());
    pm.addAdapter("default", new AdapterSpec(LoraConfig.of(4, 8), Targets.allLinear()), 11);
    new Trainer(TrainConfig.of(3, 2e-2, 7)).train(pm, Objective.meanSquaredError(), (s, mb) -> batch(200 + s));
    Map<String, INDArray> in = inputs(4);
    INDArray unmerged = pm.output(in);
    LinearSite s0 = m.linearSites().get(0);
    QuantizedWeight before = pm.quantized(s0);
    INDArray delta = pm.adapter("default").sites().get("layers.0").deltaWeight();

    pm.merge();
    QuantizedWeight merged = pm.quantized(s0);
    QuantizedWeight expected = QuantizedWeight.quantize(before.dequantize().add(delta), QuantFormat.NF4, 64, true);
    assertThat(merged.codes()).containsExactly(expected.codes());
    ExactArrays.assertBitIdentical(merged.dequantize(), expected.dequantize(), "merged quantized weight");
    double mergeShift = maxAbsDiff(pm.output(in), unmerged);
    assertThat(mergeShift).as("requantization is lossy").isGreaterThan(0);

    pm.unmerge();
    assertThat(pm.quantized(s0)).isSameAs(before);
    assertThat(maxAbsDiff(pm.output(in), unmerged)).isLessThanOrEqualTo(1e-6);

    BaseModel exported = pm.mergeAndUnload();
    assertThat(exported.quantizedWeights()).isEmpty();
    INDArray w0 = exported.weights().get("layers.0.weight");
    assertThat(maxAbsDiff(w0, before.dequantize().add(delta))).isLessThanOrEqualTo(1e-6);
    assertThat(maxAbsDiff(new PeftModel(exported, REGISTRY).output(in), unmerged)).isLessThanOrEqualTo(1e-5);
    assertThat(pm.quantized(s0)).as("export leaves the model as it was").isSameAs(before);
    System.out.printf("merge into NF4: output shift %.5f (max |y| %.3f); float export exact%n",
        mergeShift, unmerged.amaxNumber().doubleValue());
  }

  @Test
  void familiesWithoutQuantizedStorageSayWhichMethodToOverride() {
    MlpModel inner = model();
    BaseModel plain = new BaseModel() {
      @Override public String family() { return "plain"; }
      @Override public Map<String, INDArray> weights() { return inner.weights(); }
      @Override public List<LinearSite> linearSites() { return inner.linearSites(); }
      @Override public ModelOutput build(ModelGraph graph) { return inner.build(graph); }
      @Override public BaseModel withWeights(Map<String, INDArray> w) { return inner.withWeights(w); }
    };
    PeftModel pm = new PeftModel(plain, REGISTRY);
    assertThatThrownBy(() -> QuantizedBase.quantizeNf4(pm, Targets.allLinear()))
        .isInstanceOf(UnsupportedOperationException.class)
        .hasMessageContaining("'plain'").hasMessageContaining("quantizedWeights()");
    assertThat(inner.weights()).containsKey("layers.0.weight");
  }

  @Test
  void quantizedWeightsCannotBeTrained() {
    MlpModel m = model();
    PeftModel pm = new PeftModel(m, REGISTRY);
    QuantizedBase.quantizeNf4(pm, Targets.of("layers.0"));
    assertThatThrownBy(() -> pm.addTrainableBase(java.util.Set.of("layers.0.weight")))
        .hasMessageContaining("'layers.0.weight' is quantized");
  }
}
