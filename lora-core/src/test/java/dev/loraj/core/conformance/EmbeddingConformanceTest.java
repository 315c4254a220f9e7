package dev.loraj.core.conformance;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.loraj.core.adapter.Adapter;
import dev.loraj.core.adapter.AdapterRegistry;
import dev.loraj.core.adapter.AdapterSpec;
import dev.loraj.core.checkpoint.PeftAdapters;
import dev.loraj.core.io.SafetensorsFile;
import dev.loraj.core.lora.EmbeddingLoraAdapter;
import dev.loraj.core.lora.Fill;
import dev.loraj.core.lora.LoraConfig;
import dev.loraj.core.model.BaseModel;
import dev.loraj.core.model.LinearSite;
import dev.loraj.core.model.PeftModel;
import dev.loraj.core.model.Targets;
import dev.loraj.core.model.bert.BertConfig;
import dev.loraj.core.model.bert.BertModel;
import dev.loraj.core.model.gpt2.Gpt2Model;
import dev.loraj.core.model.llama.LlamaModel;
import dev.loraj.core.model.llama.RopeScaling;
import dev.loraj.core.testing.ExactArrays;
import dev.loraj.core.train.Objective;
import dev.loraj.core.train.TrainConfig;
import dev.loraj.core.train.Trainer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * The adapter contract of {@link AdapterConformanceSuite} for LoRA on a token-embedding table
 * (PEFT's {@code lora_embedding_A/B}), on tiny Llama models with untied and tied embeddings, plus
 * what is particular to embeddings: PEFT's initialisation (A = 0, B ~ N(0, 1)), the tied head
 * (it sees the original table until merged, as in PEFT), the file keys, and GPT-2's and BERT's
 * tables.
 */
class EmbeddingConformanceTest {

  static final AdapterRegistry REGISTRY = AdapterRegistry.discover();
  static final int VOCAB = 40;
  static final int HIDDEN = 16;
  static final String EMBED = "model.embed_tokens";
  /** Finite-difference step (along the unit gradient direction). */
  static final double FD_STEP = 2e-3;

  static LlamaModel llama(boolean tied) {
    LlamaModel.Config c = new LlamaModel.Config("llama", VOCAB, HIDDEN, 32, 1, 4, 2, 4, 1e-6,
        RopeScaling.unscaled(10000.0), "silu", tied, false, false, false, 0);
    return LlamaModel.random(c, 3);
  }

  static Map<String, INDArray> ids(long seed) {
    SplittableRandom r = new SplittableRandom(seed);
    long[][] ids = new long[2][5];
    for (long[] row : ids) {
      for (int t = 0; t < row.length; t++) {
        row[t] = r.nextInt(VOCAB);
      }
    }
    return Map.of("input_ids", Nd4j.createFromArray(ids));
  }

  /** Token ids and mean-squared-error targets [10, vocab]. */
  static Map<String, INDArray> batch(long seed) {
    Map<String, INDArray> b = new LinkedHashMap<>(ids(seed));
    b.put("targets", Fill.normal(new long[] {10, VOCAB}, 1.0, new SplittableRandom(seed + 1)));
    return b;
  }

  static void train(PeftModel pm, int steps, long seed) {
    new Trainer(TrainConfig.of(steps, 2e-2, seed)).train(pm, Objective.meanSquaredError(), (s, m) -> batch(seed + s));
  }

  /** LoRA r=4, alpha=8 on the embedding table and q_proj/v_proj. */
  static PeftModel adapted(BaseModel base, LoraConfig config) {
    PeftModel pm = new PeftModel(base, REGISTRY);
    pm.addAdapter("default", new AdapterSpec(config, Targets.of("embed_tokens", "q_proj", "v_proj")), 11);
    return pm;
  }

  static Map<String, INDArray> snapshot(BaseModel m) {
    Map<String, INDArray> copy = new LinkedHashMap<>();
    m.weights().forEach((k, v) -> copy.put(k, v.dup()));
    return copy;
  }

  static double maxAbsDiff(INDArray a, INDArray b) {
    return a.sub(b).amaxNumber().doubleValue();
  }

  static EmbeddingLoraAdapter embeddingAdapter(PeftModel pm, String name) {
    return (EmbeddingLoraAdapter) pm.adapter(name).sites().get(EMBED);
  }

  @Test
  void theTableIsASiteThatOnlyNamesSelect() {
    LlamaModel base = llama(false);
    LinearSite e = base.embeddingSites().get(0);
    assertThat(e.path()).isEqualTo(EMBED);
    assertThat(e.in()).isEqualTo(VOCAB);
    assertThat(e.out()).isEqualTo(HIDDEN);
    assertThat(e.weightShape()).containsExactly(VOCAB, HIDDEN);
    assertThat(Targets.allLinear().resolve(base.adapterSites())).noneMatch(LinearSite::embedding);
    assertThat(Targets.regex(".*embed_tokens").resolve(base.adapterSites())).containsExactly(e);
    assertThat(llama(true).embeddingSites().get(0).outputHead()).as("tied: the head reuses the table").isTrue();
  }

  @Test
  void initIsPeftsReversedLoraAndLeavesTheOutputUnchanged() {
    LlamaModel base = llama(false);
    INDArray before = new PeftModel(base, REGISTRY).output(ids(1));
    PeftModel pm = adapted(base, LoraConfig.of(4, 8));
    EmbeddingLoraAdapter a = embeddingAdapter(pm, "default");
    assertThat(a.parameters().keySet()).containsExactly("lora_embedding_A", "lora_embedding_B");
    assertThat(a.a().shape()).containsExactly(4, VOCAB);
    assertThat(a.b().shape()).containsExactly(HIDDEN, 4);
    assertThat(a.a().amaxNumber().doubleValue()).as("A = 0").isZero();
    double std = a.b().stdNumber().doubleValue();
    assertThat(std).as("B ~ N(0, 1)").isBetween(0.7, 1.3);
    ExactArrays.assertBitIdentical(pm.output(ids(1)), before, "output at init");
    // r (in + out) per site: the table [40 x 16], q_proj [16 x 16], v_proj [8 x 16]
    assertThat(pm.trainableParameters()).isEqualTo(4L * (VOCAB + HIDDEN) + 4L * (HIDDEN + HIDDEN) + 4L * (HIDDEN + 8));
  }

  @Test
  void trainingMovesATAndBWithTheBaseFrozenAndGradientsEqualFiniteDifferences() {
    LlamaModel base = llama(false);
    PeftModel pm = adapted(base, LoraConfig.of(4, 8));
    Map<String, INDArray> frozen = snapshot(base);
    INDArray before = pm.output(ids(2));
    EmbeddingLoraAdapter a = embeddingAdapter(pm, "default");
    INDArray b0 = a.b().dup();
    train(pm, 3, 5);
    ExactArrays.assertBitIdentical(base.weights(), frozen, "base weights after training");
    assertThat(a.a().amaxNumber().doubleValue()).as("A trained away from 0").isPositive();
    assertThat(maxAbsDiff(a.b(), b0)).as("B trained").isPositive();
    assertThat(maxAbsDiff(pm.output(ids(2)), before)).isGreaterThan(AdapterConformanceSuite.TRAINED_CHANGE);

    // every parameter of the table's adapter: nonzero gradient equal to a central difference
    Map<String, INDArray> batch = batch(AdapterConformanceSuite.LOSS_BATCH);
    AdapterConformanceSuite.LossGraph lg = AdapterConformanceSuite.LossGraph.of(pm, batch);
    List<String> checked = new ArrayList<>();
    for (PeftModel.TrainableVar v : lg.trainable()) {
      if (!EMBED.equals(v.site())) {
        continue;
      }
      INDArray g = lg.gradients().get(v.varName());
      double norm = g.norm2Number().doubleValue();
      assertThat(norm).as("gradient of %s", v.key()).isPositive();
      INDArray p = v.array();
      INDArray p0 = p.dup();
      // B ~ N(0, 1) makes the loss strongly curved along A: a smaller step than the suite's
      double h = FD_STEP;
      INDArray step = g.reshape(p.shape()).castTo(p.dataType()).mul(h / norm);
      p.addi(step);
      double plus = lg.value(batch);
      p.assign(p0).subi(step);
      double minus = lg.value(batch);
      p.assign(p0);
      double fd = (plus - minus) / (2 * h);
      assertThat(Math.abs(fd - norm)).as("%s: ||g|| = %s, finite difference %s", v.key(), norm, fd)
          .isLessThanOrEqualTo(AdapterConformanceSuite.FD_RELATIVE * norm + AdapterConformanceSuite.FD_ABSOLUTE);
      checked.add(v.key());
    }
    assertThat(checked).containsExactlyInAnyOrder("lora_embedding_A", "lora_embedding_B");

    // closed form: with E' = E + s A^T B^T, dL/dA = s B^T (dL/dE')^T and dL/dB = s (dL/dE')^T A^T,
    // where dL/dE' is the table's gradient in the merged model trained in full
    PeftModel merged = new PeftModel(pm.mergeAndUnload(), REGISTRY);
    merged.addTrainableBase(java.util.Set.of(EMBED + ".weight"));
    INDArray dE = AdapterConformanceSuite.LossGraph.of(merged, batch).gradients().get(EMBED + ".weight"); // [V, d]
    double s = a.scaling();
    INDArray dA = a.b().transpose().mmul(dE.transpose()).muli(s);
    INDArray dB = dE.transpose().mmul(a.a().transpose()).muli(s);
    for (PeftModel.TrainableVar v : lg.trainable()) {
      if (EMBED.equals(v.site())) {
        INDArray expected = v.key().equals(EmbeddingLoraAdapter.A) ? dA : dB;
        INDArray g = lg.gradients().get(v.varName());
        assertThat(maxAbsDiff(g, expected) / expected.amaxNumber().doubleValue())
            .as("%s: gradient vs closed form, relative to its largest entry", v.key()).isLessThanOrEqualTo(1e-4);
      }
    }
  }

  @Test
  void theBranchIsTheLookupOfTheTransposedUpdate() {
    LlamaModel base = llama(false);
    PeftModel pm = adapted(base, LoraConfig.of(4, 8));
    EmbeddingLoraAdapter a = embeddingAdapter(pm, "default");
    Fill.normal(a.a(), 0, 0.5, new SplittableRandom(3));
    INDArray dW = a.deltaWeight(); // [dim, vocab] = s B A
    assertThat(dW.shape()).containsExactly(HIDDEN, VOCAB);
    assertThat(maxAbsDiff(dW, a.b().mmul(a.a()).mul(2.0))).isLessThanOrEqualTo(1e-6);
    // only the table adapted: the model equals the base with E + dW^T as its table
    PeftModel only = new PeftModel(base, REGISTRY);
    only.putAdapter("e", new AdapterSpec(LoraConfig.of(4, 8), Targets.of("embed_tokens")), Map.of(EMBED, a));
    Map<String, INDArray> w = new LinkedHashMap<>(base.weights());
    w.put(EMBED + ".weight", base.weights().get(EMBED + ".weight").add(dW.transpose()));
    INDArray expected = new PeftModel(base.withWeights(w), REGISTRY).output(ids(3));
    assertThat(maxAbsDiff(only.output(ids(3)), expected)).isLessThanOrEqualTo(1e-5);
  }

  @Test
  void mergeUnmergeDisableAndMergeAndUnloadAreExactWhenUntied() {
    LlamaModel base = llama(false);
    PeftModel pm = adapted(base, LoraConfig.of(4, 8));
    train(pm, 3, 5);
    Map<String, INDArray> in = ids(4);
    Map<String, INDArray> w0 = snapshot(base);
    INDArray unmerged = pm.output(in);
    pm.merge();
    assertThat(maxAbsDiff(pm.output(in), unmerged)).as("merged vs unmerged").isLessThanOrEqualTo(1e-5);
    INDArray table = base.weights().get(EMBED + ".weight");
    INDArray expectedTable = w0.get(EMBED + ".weight").add(embeddingAdapter(pm, "default").deltaWeight().transpose());
    assertThat(maxAbsDiff(table, expectedTable)).as("E + (s B A)^T").isLessThanOrEqualTo(1e-6);
    pm.unmerge();
    w0.forEach((k, v) -> assertThat(maxAbsDiff(base.weights().get(k), v)).as("unmerge restores %s", k)
        .isLessThanOrEqualTo(1e-6));
    assertThat(maxAbsDiff(pm.output(in), unmerged)).isLessThanOrEqualTo(1e-5);
    INDArray plain = new PeftModel(base, REGISTRY).output(in);
    pm.disableAdapters();
    assertThat(maxAbsDiff(pm.output(in), plain)).isLessThanOrEqualTo(1e-6);
    pm.enableAdapters();
    BaseModel unloaded = pm.mergeAndUnload();
    assertThat(maxAbsDiff(new PeftModel(unloaded, REGISTRY).output(in), unmerged)).isLessThanOrEqualTo(1e-5);
  }

  /**
   * PEFT 0.21 (default {@code ensure_weight_tying=false}) adapts the input embedding only: the
   * tied head keeps computing with the original table until the adapter is merged into it.
   */
  @Test
  void aTiedHeadSeesTheAdaptedTableOnlyOnceMergedAsInPeft() {
    LlamaModel base = llama(true);
    PeftModel pm = adapted(base, LoraConfig.of(4, 8).withRslora(true));
    train(pm, 3, 5);
    Map<String, INDArray> in = ids(4);
    INDArray unmerged = pm.output(in);
    INDArray dWt = embeddingAdapter(pm, "default").deltaWeight().transpose();
    assertThat(embeddingAdapter(pm, "default").scaling()).isEqualTo(8 / Math.sqrt(4));

    // unmerged = an untied model whose input table is E + dW^T and whose head is E
    Map<String, INDArray> w = new LinkedHashMap<>(base.weights());
    INDArray e = base.weights().get(EMBED + ".weight");
    LlamaModel.Config untied = untie(base.config());
    w.put("lm_head.weight", e.dup());
    PeftModel reference = new PeftModel(new LlamaModel(untied, w), REGISTRY);
    Map<String, Adapter> sites = new LinkedHashMap<>(pm.adapter("default").sites());
    reference.putAdapter("default", pm.adapter("default").spec(), sites);
    assertThat(maxAbsDiff(unmerged, reference.output(in))).as("unmerged: head uses E").isLessThanOrEqualTo(1e-5);

    pm.merge();
    INDArray merged = pm.output(in);
    Map<String, INDArray> both = new LinkedHashMap<>(w);
    both.put(EMBED + ".weight", e.add(dWt));
    both.put("lm_head.weight", e.add(dWt));
    PeftModel mergedRef = new PeftModel(new LlamaModel(untied, both), REGISTRY);
    mergedRef.putAdapter("default", pm.adapter("default").spec(), withoutTable(sites));
    mergedRef.merge();
    assertThat(maxAbsDiff(merged, mergedRef.output(in))).as("merged: head uses E + dW^T").isLessThanOrEqualTo(1e-4);
    assertThat(maxAbsDiff(merged, unmerged)).as("so merging changes the logits").isGreaterThan(1e-3);
    pm.unmerge();
    assertThat(maxAbsDiff(pm.output(in), unmerged)).as("unmerge restores").isLessThanOrEqualTo(1e-5);
  }

  private static LlamaModel.Config untie(LlamaModel.Config c) {
    return new LlamaModel.Config(c.modelType(), c.vocabSize(), c.hidden(), c.intermediate(), c.layers(),
        c.heads(), c.kvHeads(), c.headDim(), c.rmsNormEps(), c.rope(), c.activation(), false, c.qkvBias(),
        c.outBias(), c.mlpBias(), c.slidingWindow());
  }

  private static Map<String, Adapter> withoutTable(Map<String, Adapter> sites) {
    Map<String, Adapter> out = new LinkedHashMap<>(sites);
    out.remove(EMBED);
    return out;
  }

  @Test
  void aRunResumedFromItsCheckpointEndsBitIdentical(@TempDir Path dir) {
    PeftModel uninterrupted = adapted(llama(true), LoraConfig.of(4, 8));
    train(uninterrupted, 4, 5);
    PeftModel killed = adapted(llama(true), LoraConfig.of(4, 8));
    Trainer first = new Trainer(TrainConfig.of(4, 2e-2, 5)).checkpoints(dir, 2)
        .listen(new dev.loraj.core.train.TrainListener() {
          @Override
          public void onStep(long step, long total, double loss, double lr, double ms) {
            if (step == 2) {
              throw new AdapterConformanceSuite.KilledRun();
            }
          }
        });
    assertThatThrownBy(() -> first.train(killed, Objective.meanSquaredError(), (s, m) -> batch(5 + s)))
        .isInstanceOf(AdapterConformanceSuite.KilledRun.class);
    PeftModel resumed = adapted(llama(true), LoraConfig.of(4, 8));
    new Trainer(TrainConfig.of(4, 2e-2, 5)).checkpoints(dir, 2)
        .train(resumed, Objective.meanSquaredError(), (s, m) -> batch(5 + s));
    ExactArrays.assertBitIdentical(resumed.output(ids(2)), uninterrupted.output(ids(2)), "output after resuming at step 2");
  }

  /** PEFT's add_weighted_adapter combines lora_embedding_A/B as it combines lora_A/B. */
  @Test
  void combiningTableAdaptersKeepsTheirEmbeddingForm() {
    LlamaModel base = llama(false);
    PeftModel pm = adapted(base, LoraConfig.of(4, 8));
    pm.addAdapter("b", new AdapterSpec(LoraConfig.of(2, 4), Targets.of("embed_tokens")), 12);
    Fill.normal(embeddingAdapter(pm, "default").a(), 0, 0.3, new SplittableRandom(1));
    Fill.normal(embeddingAdapter(pm, "b").a(), 0, 0.3, new SplittableRandom(2));
    dev.loraj.core.lora.Combination.combine(pm, "c", List.of("default", "b"), List.of(0.5, -2.0),
        dev.loraj.core.lora.Combination.Method.of(dev.loraj.core.lora.Combination.Type.CAT, 0));
    INDArray expected = embeddingAdapter(pm, "default").deltaWeight().mul(0.5)
        .add(embeddingAdapter(pm, "b").deltaWeight().mul(-2.0));
    EmbeddingLoraAdapter c = embeddingAdapter(pm, "c");
    assertThat(maxAbsDiff(c.deltaWeight(), expected)).isLessThanOrEqualTo(1e-5);
    pm.setActive("c");
    Map<String, INDArray> w = new LinkedHashMap<>(base.weights());
    w.put(EMBED + ".weight", base.weights().get(EMBED + ".weight").add(expected.transpose()));
    PeftModel only = new PeftModel(base, REGISTRY);
    only.putAdapter("t", new AdapterSpec(LoraConfig.of(6, 6), Targets.of("embed_tokens")), Map.of(EMBED, c));
    assertThat(maxAbsDiff(only.output(ids(6)), new PeftModel(base.withWeights(w), REGISTRY).output(ids(6))))
        .isLessThanOrEqualTo(1e-5);
  }

  @Test
  void mixedBatchRowsEqualSingleAdapterOutputs() {
    LlamaModel base = llama(false);
    PeftModel pm = adapted(base, LoraConfig.of(4, 8));
    train(pm, 2, 5);
    pm.addAdapter("b", new AdapterSpec(LoraConfig.of(4, 8), Targets.of("embed_tokens")), 12);
    pm.setActive("b");
    train(pm, 2, 6);
    Map<String, INDArray> in = ids(7);
    INDArray mixed = pm.outputMixed(in, List.of("b", PeftModel.BASE));
    INDArray plain = new PeftModel(base, REGISTRY).output(in);
    INDArray viaB = pm.output(in);
    assertThat(maxAbsDiff(mixed.get(rows(0)), viaB.get(rows(0)))).isLessThanOrEqualTo(1e-5);
    assertThat(maxAbsDiff(mixed.get(rows(1)), plain.get(rows(1)))).isLessThanOrEqualTo(1e-5);
  }

  private static org.nd4j.linalg.indexing.INDArrayIndex[] rows(int example) {
    return new org.nd4j.linalg.indexing.INDArrayIndex[] {
        org.nd4j.linalg.indexing.NDArrayIndex.interval(example * 5L, example * 5L + 5),
        org.nd4j.linalg.indexing.NDArrayIndex.all()};
  }

  @Test
  void peftDirectoryHasPeftsKeysAndLoadsBack(@TempDir Path dir) throws Exception {
    LlamaModel base = llama(true);
    PeftModel pm = adapted(base, LoraConfig.of(4, 8));
    train(pm, 2, 5);
    INDArray expected = pm.output(ids(8));
    PeftAdapters.save(pm, "default", dir.resolve("a"));
    try (SafetensorsFile f = SafetensorsFile.open(dir.resolve("a/adapter_model.safetensors"))) {
      assertThat(new TreeSet<>(f.names())).contains(
          "base_model.model.model.embed_tokens.lora_embedding_A",
          "base_model.model.model.embed_tokens.lora_embedding_B",
          "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight");
      assertThat(f.info("base_model.model.model.embed_tokens.lora_embedding_A").shape()).containsExactly(4, VOCAB);
      assertThat(f.info("base_model.model.model.embed_tokens.lora_embedding_B").shape()).containsExactly(HIDDEN, 4);
    }
    String config = Files.readString(dir.resolve("a/adapter_config.json"));
    assertThat(config).contains("\"model.embed_tokens\"").contains("\"fan_in_fan_out\" : false");
    PeftModel loaded = new PeftModel(base, REGISTRY);
    PeftAdapters.load(loaded, dir.resolve("a"), "default");
    assertThat(loaded.adapter("default").sites().get(EMBED)).isInstanceOf(EmbeddingLoraAdapter.class);
    ExactArrays.assertBitIdentical(loaded.output(ids(8)), expected, "logits after save and load");
  }

  @Test
  void gpt2AndBertTablesTakeTheAdapterToo() {
    Gpt2Model.Config g = new Gpt2Model.Config(VOCAB, 16, HIDDEN, 1, 2, 4 * HIDDEN, 1e-5, "gelu_new", true, false);
    Gpt2Model gpt2 = new Gpt2Model(g, Gpt2Model.expectedWeights(g).randomInit(0.02, 3));
    checkTable(gpt2, "wte", "transformer.wte", Map.of("input_ids", ids(9).get("input_ids")));
    BertConfig c = new BertConfig(VOCAB, HIDDEN, 1, 2, 32, "gelu", 16, 2, 1e-12, 0.0, 0.0);
    BertModel bert = BertModel.random(c, BertModel.Pooling.MEAN, 3, 7);
    INDArray ids = ids(9).get("input_ids");
    Map<String, INDArray> in = BertModel.inputs(new dev.loraj.core.model.bert.TokenBatch(
        ids.toLongMatrix(), onesLike(ids), new long[2][5]));
    checkTable(bert, "word_embeddings", bert.embeddingSites().get(0).path(), in);
  }

  private static long[][] onesLike(INDArray ids) {
    long[][] m = new long[(int) ids.size(0)][(int) ids.size(1)];
    for (long[] row : m) {
      java.util.Arrays.fill(row, 1);
    }
    return m;
  }

  /** Nonzero A: the adapted output equals the base with the merged table, and merge is exact. */
  private static void checkTable(BaseModel base, String target, String path, Map<String, INDArray> in) {
    PeftModel pm = new PeftModel(base, REGISTRY);
    pm.addAdapter("default", new AdapterSpec(LoraConfig.of(2, 4), Targets.of(target)), 11);
    EmbeddingLoraAdapter a = (EmbeddingLoraAdapter) pm.adapter("default").sites().get(path);
    Fill.normal(a.a(), 0, 0.5, new SplittableRandom(5));
    INDArray unmerged = pm.output(in);
    INDArray plain = new PeftModel(base, REGISTRY).output(in);
    assertThat(maxAbsDiff(unmerged, plain)).as("%s: the adapter changes the output", path).isGreaterThan(1e-4);
    BaseModel unloaded = pm.mergeAndUnload();
    INDArray table = base.weights().get(path + ".weight");
    assertThat(maxAbsDiff(unloaded.weights().get(path + ".weight"), table.add(a.deltaWeight().transpose())))
        .isLessThanOrEqualTo(1e-6);
    if (!base.embeddingSites().get(0).outputHead()) {
      assertThat(maxAbsDiff(new PeftModel(unloaded, REGISTRY).output(in), unmerged)).isLessThanOrEqualTo(1e-5);
    }
  }

  @Test
  void savedTablesMustBeTheModelsAndTyingTheHeadIsRefused(@TempDir Path dir) throws Exception {
    LlamaModel base = llama(true);
    PeftModel pm = adapted(base, LoraConfig.of(4, 8));
    PeftAdapters.save(pm, "default", dir.resolve("a"));
    Path weights = dir.resolve("a/adapter_model.safetensors");
    Map<String, INDArray> tensors = new LinkedHashMap<>();
    try (SafetensorsFile f = SafetensorsFile.open(weights)) {
      for (String n : f.names()) {
        tensors.put(n, f.getFloat(n));
      }
    }
    // PEFT's save_embedding_layers="auto" writes the frozen table too: the same values load
    String key = "base_model.model.model.embed_tokens.base_layer.weight";
    tensors.put(key, base.weights().get(EMBED + ".weight").dup());
    dev.loraj.core.io.SafetensorsWriter.write(weights, tensors, Map.of("format", "pt"));
    PeftAdapters.load(new PeftModel(base, REGISTRY), dir.resolve("a"), "x");
    tensors.put(key, base.weights().get(EMBED + ".weight").add(1));
    dev.loraj.core.io.SafetensorsWriter.write(weights, tensors, Map.of("format", "pt"));
    assertThatThrownBy(() -> PeftAdapters.load(new PeftModel(base, REGISTRY), dir.resolve("a"), "x"))
        .hasMessageContaining(key).hasMessageContaining("differs from the model's");
    tensors.remove(key);
    dev.loraj.core.io.SafetensorsWriter.write(weights, tensors, Map.of("format", "pt"));
    Path config = dir.resolve("a/adapter_config.json");
    Files.writeString(config, Files.readString(config).replaceFirst("\\{", "{\n  \"ensure_weight_tying\" : true,"));
    assertThatThrownBy(() -> PeftAdapters.load(new PeftModel(base, REGISTRY), dir.resolve("a"), "x"))
        .hasMessageContaining("ensure_weight_tying").hasMessageContaining(EMBED);
  }
}
