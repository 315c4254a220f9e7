package dev.loraj.core.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.loraj.core.adapter.AdapterRegistry;
import dev.loraj.core.adapter.AdapterSpec;
import dev.loraj.core.engine.MemoryLedger;
import dev.loraj.core.io.HalfPrecision;
import dev.loraj.core.lora.LoraAdapter;
import dev.loraj.core.lora.LoraConfig;
import dev.loraj.core.quant.QuantFormat;
import dev.loraj.core.quant.QuantizedBase;
import dev.loraj.core.quant.QuantizedWeight;
import java.nio.file.Path;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Loading a checkpoint straight into its held form (16-bit or quantized, {@link BaseDtype},
 * {@link QuantizeOnLoad}) and what a 16-bit base does with adapters: trained weights go back to
 * float32, merging adds in float32 and rounds to the base's type.
 */
class StreamingLoadTest {

  private static Path bf16Model() throws Exception {
    return Path.of(StreamingLoadTest.class.getResource("/golden/bf16_v1/cases.json").toURI())
        .getParent().resolve("llama-bf16-tiny");
  }

  private static INDArray ids() {
    return Nd4j.createFromArray(new long[][] {{3, 14, 15, 9, 26, 5}});
  }

  @Test
  void dtypesChooseHowLinearWeightsAreHeld() throws Exception {
    BaseModel f32 = HfModels.load(bf16Model());
    assertThat(f32.quantizedWeights()).isEmpty();
    for (BaseDtype d : new BaseDtype[] {BaseDtype.AUTO, BaseDtype.BF16, BaseDtype.F16}) {
      BaseModel m = HfModels.load(bf16Model(), d);
      QuantFormat expected = d == BaseDtype.F16 ? QuantFormat.F16 : QuantFormat.BF16;
      assertThat(m.quantizedWeights()).hasSize(m.adapterSites().size()); // the linears and the table
      for (LinearSite s : m.linearSites()) {
        QuantizedWeight q = m.quantizedWeights().get(s.weightName());
        assertThat(q.format()).isEqualTo(expected);
        if (d != BaseDtype.F16) { // the checkpoint's own bits, widened exactly
          assertThat(q.dequantize().data().asFloat())
              .containsExactly(f32.weights().get(s.weightName()).data().asFloat());
        }
      }
      assertThat(m.parameterCount()).isEqualTo(f32.parameterCount());
    }
    assertThat(BaseDtype.parse("BF16")).isEqualTo(BaseDtype.BF16);
    assertThatThrownBy(() -> BaseDtype.parse("fp8")).hasMessageContaining("accepted auto, bf16, f16, f32");
  }

  /**
   * Quantize-on-load gives the same codes as quantizing the float32 model afterwards, and the
   * loaded model holds, as the ledger counts it, only the quantized codes, the 16-bit head and
   * the float32 embeddings and norms: no float32 linear weight.
   */
  @Test
  void quantizeOnLoadMatchesQuantizingAfterwardsAndHoldsNoFloatLinearWeight() throws Exception {
    BaseModel m = HfModels.load(bf16Model(), BaseDtype.AUTO, QuantizeOnLoad.nf4(Targets.allLinear()));
    PeftModel reference = new PeftModel(HfModels.load(bf16Model()), AdapterRegistry.discover());
    QuantizedBase.quantizeNf4(reference, Targets.allLinear());
    long quantized = 0;
    long half = 0;
    for (LinearSite s : m.linearSites()) {
      QuantizedWeight q = m.quantizedWeights().get(s.weightName());
      assertThat(m.weights()).doesNotContainKey(s.weightName());
      if (s.outputHead()) { // all-linear leaves the head out: held in the checkpoint's bf16
        assertThat(q.format()).isEqualTo(QuantFormat.BF16);
        half += q.storageBytes();
        continue;
      }
      assertThat(q.format()).isEqualTo(QuantFormat.NF4);
      assertThat(q.doubleQuantized()).isTrue();
      QuantizedWeight r = reference.quantized(s);
      assertThat(q.codes()).isEqualTo(r.codes());
      assertThat(q.absmaxCodes()).isEqualTo(r.absmaxCodes());
      quantized += q.storageBytes();
    }
    MemoryLedger ledger = new MemoryLedger();
    new PeftModel(m, AdapterRegistry.discover()).addTo(ledger);
    long dense = m.weights().values().stream().mapToLong(a -> 4 * a.length()).sum();
    long table = 0;
    for (LinearSite t : m.embeddingSites()) { // the table stays in the checkpoint's bf16, never NF4
      QuantizedWeight q = m.quantizedWeights().get(t.weightName());
      assertThat(q.format()).isEqualTo(QuantFormat.BF16);
      table += q.storageBytes();
    }
    assertThat(ledger.bytes(MemoryLedger.Category.QUANTIZED)).isEqualTo(quantized);
    assertThat(ledger.bytes(MemoryLedger.Category.FROZEN)).isEqualTo(half + table + dense);
    long linear = m.linearSites().stream().mapToLong(s -> 4L * s.in() * s.out()).sum();
    System.out.printf("tiny llama: float32 linear weights %d bytes; held %d (nf4) + %d (bf16 head)%n",
        linear, quantized, half);
    assertThat(quantized + half).isLessThan(linear / 4);
  }

  @Test
  void mergingIntoA16BitBaseAddsInFloat32AndRoundsToBf16() throws Exception {
    PeftModel pm = new PeftModel(HfModels.load(bf16Model(), BaseDtype.AUTO), AdapterRegistry.discover());
    pm.addAdapter("default", new AdapterSpec(LoraConfig.of(4, 8), Targets.of("q_proj", "v_proj")), 7);
    pm.adapter("default").sites().values().forEach(a -> {
      LoraAdapter l = (LoraAdapter) a;
      Nd4j.getRandom().setSeed(11);
      l.b().assign(Nd4j.randn(DataType.FLOAT, l.b().shape()).muli(0.05));
    });
    INDArray unmerged = pm.output(Map.of("input_ids", ids()));
    LinearSite site = pm.base().linearSites().get(0);
    QuantizedWeight before = pm.quantized(site);
    float[] w = before.dequantize().data().asFloat();
    float[] delta = ((LoraAdapter) pm.adapter("default").sites().get(site.path())).deltaWeight()
        .data().asFloat();
    pm.merge();
    QuantizedWeight after = pm.quantized(site);
    assertThat(after.format()).isEqualTo(QuantFormat.BF16);
    float[] merged = after.dequantize().data().asFloat();
    for (int i = 0; i < w.length; i++) {
      assertThat(merged[i]).isEqualTo(HalfPrecision.bfloat16ToFloat(HalfPrecision.floatToBfloat16(w[i] + delta[i])));
    }
    INDArray mergedOut = pm.output(Map.of("input_ids", ids()));
    double diff = mergedOut.sub(unmerged).amaxNumber().doubleValue();
    System.out.printf("bf16 base: merged vs unmerged logits max |diff| = %.3e (bf16 rounding)%n", diff);
    assertThat(diff).isLessThan(0.05);
    pm.unmerge();
    assertThat(pm.quantized(site)).isSameAs(before);
  }

  /**
   * LoRA on a token-embedding table held in bf16: the lookup reads the 16-bit rows, merging adds
   * (B A)^T s in float32 and rounds the table to bf16 in its stored layout, unmerging restores it.
   */
  @Test
  void anEmbeddingAdapterMergesIntoABf16TableAndUnmergesExactly() throws Exception {
    PeftModel pm = new PeftModel(HfModels.load(bf16Model(), BaseDtype.AUTO), AdapterRegistry.discover());
    String table = "model.embed_tokens.weight";
    QuantizedWeight before = pm.base().quantizedWeights().get(table);
    assertThat(before.format()).isEqualTo(QuantFormat.BF16);
    INDArray original = pm.output(Map.of("input_ids", ids()));
    pm.addAdapter("default", new AdapterSpec(LoraConfig.of(4, 8), Targets.of("embed_tokens")), 7);
    LoraAdapter ad = (LoraAdapter) pm.adapter("default").sites().values().iterator().next();
    ad.a().assign(Nd4j.rand(DataType.FLOAT, ad.a().shape()).subi(0.5).muli(0.1));
    INDArray unmerged = pm.output(Map.of("input_ids", ids()));
    assertThat(unmerged.sub(original).amaxNumber().doubleValue()).as("the adapter acts").isPositive();
    INDArray delta = ad.b().mmul(ad.a()).transpose().dup('c').muli(ad.scaling()); // [vocab, dim], as stored
    pm.merge();
    QuantizedWeight merged = pm.base().quantizedWeights().get(table);
    assertThat(merged.format()).isEqualTo(QuantFormat.BF16);
    assertThat(new long[] {merged.rows(), merged.cols()}).isEqualTo(new long[] {before.rows(), before.cols()});
    INDArray expected = before.dequantize().add(delta);
    double tableDiff = merged.dequantize().sub(expected).amaxNumber().doubleValue();
    System.out.printf("bf16 table: merged vs float32 sum max |diff| = %.3e (bf16 rounding)%n", tableDiff);
    assertThat(tableDiff).isLessThan(1e-2 * Math.max(1, expected.amaxNumber().doubleValue()));
    INDArray mergedOut = pm.output(Map.of("input_ids", ids()));
    assertThat(mergedOut.sub(unmerged).amaxNumber().doubleValue()).as("untied head: merged ~ unmerged")
        .isLessThan(0.05);
    pm.unmerge();
    assertThat(pm.base().quantizedWeights().get(table)).isSameAs(before);
    assertThat(pm.output(Map.of("input_ids", ids())).equalsWithEps(unmerged, 1e-6)).isTrue();
  }

  /** Merge into a bf16 base, save, load again: the merged bf16 weights come back bit for bit. */
  @Test
  void aMergedBf16BaseIsSavedAndReloaded(@org.junit.jupiter.api.io.TempDir Path tmp) throws Exception {
    PeftModel pm = new PeftModel(HfModels.load(bf16Model(), BaseDtype.AUTO), AdapterRegistry.discover());
    pm.addAdapter("default", new AdapterSpec(LoraConfig.of(4, 8), Targets.of("q_proj", "down_proj")), 7);
    pm.adapter("default").sites().values().forEach(a -> ((LoraAdapter) a).b().assign(0.01));
    pm.merge();
    INDArray merged = pm.output(Map.of("input_ids", ids()));
    java.nio.file.Files.copy(bf16Model().resolve("config.json"), tmp.resolve("config.json"));
    HfModels.saveWeights(pm.base(), tmp.resolve("model.safetensors"), BaseDtype.AUTO);
    try (dev.loraj.core.io.SafetensorsFile f = dev.loraj.core.io.SafetensorsFile.open(tmp.resolve("model.safetensors"))) {
      assertThat(f.info("model.layers.0.self_attn.q_proj.weight").dtype()).isEqualTo(dev.loraj.core.io.SafetensorsDtype.BF16);
      // the table is held in the checkpoint's bf16 too, and saved as such
      assertThat(f.info("model.embed_tokens.weight").dtype()).isEqualTo(dev.loraj.core.io.SafetensorsDtype.BF16);
    }
    BaseModel again = HfModels.load(tmp, BaseDtype.AUTO);
    for (LinearSite s : again.linearSites()) {
      assertThat(again.quantizedWeights().get(s.weightName()).codes())
          .isEqualTo(pm.base().quantizedWeights().get(s.weightName()).codes());
    }
    INDArray reloaded = new PeftModel(again, AdapterRegistry.discover()).output(Map.of("input_ids", ids()));
    assertThat(reloaded.sub(merged).amaxNumber().doubleValue()).isZero();
    // every weight in bf16: the float32 ones are rounded, the bf16 ones kept
    HfModels.saveWeights(pm.base(), tmp.resolve("all-bf16.safetensors"), BaseDtype.BF16);
    try (dev.loraj.core.io.SafetensorsFile f = dev.loraj.core.io.SafetensorsFile.open(tmp.resolve("all-bf16.safetensors"))) {
      assertThat(f.names()).allSatisfy(n -> assertThat(f.info(n).dtype()).isEqualTo(dev.loraj.core.io.SafetensorsDtype.BF16));
      assertThat(f.getFloat("model.layers.1.mlp.down_proj.weight").data().asFloat())
          .containsExactly(pm.base().quantizedWeights().get("model.layers.1.mlp.down_proj.weight").dequantize().data().asFloat());
    }
  }

  @Test
  void trainedWeightsOfA16BitBaseAreHeldInFloat32() throws Exception {
    PeftModel pm = new PeftModel(HfModels.load(bf16Model(), BaseDtype.AUTO), AdapterRegistry.discover());
    LinearSite head = pm.base().linearSites().stream().filter(LinearSite::outputHead).findFirst().orElseThrow();
    pm.addAdapter("default", new AdapterSpec(LoraConfig.of(4, 8),
        Targets.of("q_proj").withModulesToSave("lm_head")), 3);
    assertThat(pm.trainableBase()).contains(head.weightName());
    assertThat(pm.quantized(head)).isNull();
    assertThat(pm.base().weights().get(head.weightName()).dataType()).isEqualTo(DataType.FLOAT);
    LinearSite down = pm.base().linearSites().stream().filter(s -> s.path().endsWith("down_proj"))
        .findFirst().orElseThrow();
    pm.addTrainableBase(Set.of(down.weightName()));
    assertThat(pm.quantized(down)).isNull();
  }

  @Test
  void inMemoryBasesAreNarrowedExceptTrainableWeights() throws Exception {
    PeftModel pm = new PeftModel(HfModels.load(bf16Model()), AdapterRegistry.discover());
    pm.addAdapter("default", new AdapterSpec(LoraConfig.of(4, 8),
        Targets.of("q_proj").withModulesToSave("lm_head")), 3);
    INDArray before = pm.output(Map.of("input_ids", ids()));
    assertThat(QuantizedBase.holdFrozen(pm, BaseDtype.AUTO)).isEmpty();
    assertThat(QuantizedBase.holdFrozen(pm, BaseDtype.F32)).isEmpty();
    var held = QuantizedBase.holdFrozen(pm, BaseDtype.BF16);
    assertThat(held).hasSize(pm.base().linearSites().size() - 1).doesNotContain("lm_head");
    // the weights were bf16 values already: holding them in bf16 changes no output
    INDArray after = pm.output(Map.of("input_ids", ids()));
    assertThat(after.sub(before).amaxNumber().doubleValue()).isLessThan(1e-5);
  }
}
