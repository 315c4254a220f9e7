package dev.loraj.core.conformance;

import static org.assertj.core.api.Assertions.assertThat;

import dev.loraj.core.adapter.AdapterConfig;
import dev.loraj.core.adapter.AdapterFactory;
import dev.loraj.core.adapter.AdapterRegistry;
import dev.loraj.core.adapter.AdapterSpec;
import dev.loraj.core.adapter.ConfigCodec;
import dev.loraj.core.model.LinearSite;
import dev.loraj.core.model.MlpModel;
import dev.loraj.core.model.PeftModel;
import dev.loraj.core.model.Targets;
import dev.loraj.core.quant.QuantizedWeight;
import dev.loraj.core.train.Objective;
import dev.loraj.core.train.TrainConfig;
import dev.loraj.core.train.Trainer;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import dev.loraj.core.lora.Fill;

/**
 * The contract every registered variant keeps (after litgpt's merge test and PEFT's
 * testing_common.py). A module runs it for all factories on its class path by declaring an empty
 * subclass; a new variant needs no test code to be covered.
 */
public abstract class AdapterConformanceSuite {

  static final List<Integer> WIDTHS = List.of(16, 24, 12, 5);
  static final int RANK = 4;
  static final double ALPHA = 8;
  /**
   * Merged vs unmerged outputs on a quantized base, relative to the largest output: the merge
   * requantizes W + dW with 4-bit codes (NF4's largest half-gap is ~0.14 of a block's absmax).
   */
  static final double QUANTIZED_MERGE_TOLERANCE = 0.1;

  /** The registry under test: by default every factory on the class path. */
  protected AdapterRegistry registry() {
    return AdapterRegistry.discover();
  }

  /** The config used for {@code factory}: its defaults at rank 4, alpha 8. */
  protected AdapterConfig configFor(AdapterFactory<?> factory) {
    return factory.defaultConfig().withRankAndAlpha(RANK, ALPHA);
  }

  @TestFactory
  Stream<DynamicTest> conformance() {
    AdapterRegistry registry = registry();
    List<DynamicTest> tests = new ArrayList<>();
    for (AdapterFactory<?> f : registry.factories()) {
      String n = f.name();
      tests.add(DynamicTest.dynamicTest(n + ": output unchanged at init", () -> identityAtInit(registry, f)));
      tests.add(DynamicTest.dynamicTest(n + ": base weights bit-identical after training", () -> baseUntouched(registry, f)));
      tests.add(DynamicTest.dynamicTest(n + ": merge, merge twice, unmerge", () -> mergeUnmerge(registry, f)));
      tests.add(DynamicTest.dynamicTest(n + ": disabled output equals base", () -> disabled(registry, f)));
      tests.add(DynamicTest.dynamicTest(n + ": mixed batch rows equal single-adapter outputs", () -> mixedBatch(registry, f)));
      tests.add(DynamicTest.dynamicTest(n + ": trainable count equals closed form", () -> trainableCount(registry, f)));
      tests.add(DynamicTest.dynamicTest(n + ": config round-trips through JSON and YAML", () -> roundTrip(registry, f)));
    }
    return tests.stream();
  }

  // ------------------------------------------------------------------ fixtures

  static MlpModel baseModel() {
    return MlpModel.random(WIDTHS, MlpModel.Activation.GELU, true, 7);
  }

  static Map<String, INDArray> inputs(long seed) {
    INDArray x = Fill.normal(new long[] {6, WIDTHS.get(0)}, 1.0, new SplittableRandom(seed));
    return Map.of("x", x);
  }

  static Map<String, INDArray> batch(long seed) {
    Map<String, INDArray> b = new LinkedHashMap<>(inputs(seed));
    b.put("targets", Fill.normal(new long[] {6, WIDTHS.get(WIDTHS.size() - 1)}, 1.0, new SplittableRandom(seed + 1)));
    return b;
  }

  static Map<String, INDArray> snapshot(MlpModel m) {
    Map<String, INDArray> copy = new LinkedHashMap<>();
    m.weights().forEach((k, v) -> copy.put(k, v.dup()));
    return copy;
  }

  /**
   * Runs on every model before the suite adds an adapter. The default calibrates the model on a
   * few random batches so that data-aware inits (CorDA reads {@code SiteInit.inputCovariance()})
   * can be created; for every other variant this only records statistics nobody reads.
   */
  protected void prepare(PeftModel pm) {
    List<Map<String, INDArray>> batches = new ArrayList<>();
    for (long seed = 0; seed < 3; seed++) {
      batches.add(Map.of("x", Fill.normal(new long[] {32, WIDTHS.get(0)}, 1.0, new SplittableRandom(900 + seed))));
    }
    pm.calibrate(batches);
  }

  PeftModel withAdapter(AdapterRegistry registry, AdapterFactory<?> f, MlpModel base, String name, long seed) {
    PeftModel pm = new PeftModel(base, registry);
    prepare(pm);
    pm.addAdapter(name, new AdapterSpec(configFor(f), Targets.allLinear()), seed);
    return pm;
  }

  static void train(PeftModel pm, int steps, long seed) {
    new Trainer(TrainConfig.of(steps, 2e-2, seed)).train(pm, Objective.meanSquaredError(), (s, m) -> batch(seed + s));
  }

  static INDArray baseOutput(MlpModel base, AdapterRegistry registry, Map<String, INDArray> in) {
    return new PeftModel(base, registry).output(in);
  }

  static double maxAbsDiff(INDArray a, INDArray b) {
    return a.sub(b).amaxNumber().doubleValue();
  }

  // ------------------------------------------------------------------ properties

  void identityAtInit(AdapterRegistry registry, AdapterFactory<?> f) {
    AdapterConfig cfg = configFor(f);
    if (!identity(f, cfg)) {
      return;
    }
    MlpModel base = baseModel();
    Map<String, INDArray> in = inputs(1);
    INDArray before = baseOutput(base, registry, in);
    PeftModel pm = withAdapter(registry, f, base, "default", 11);
    double tol = rewrites(f, cfg) ? 1e-5 : 1e-6;
    assertThat(maxAbsDiff(pm.output(in), before)).as("output change at init").isLessThanOrEqualTo(tol);
  }

  void baseUntouched(AdapterRegistry registry, AdapterFactory<?> f) {
    MlpModel base = baseModel();
    PeftModel pm = withAdapter(registry, f, base, "default", 11);
    Map<String, INDArray> afterInit = snapshot(base);
    train(pm, 3, 5);
    afterInit.forEach((k, v) -> assertThat(base.weights().get(k).equals(v)).as("base weight %s unchanged", k).isTrue());
    if (!rewrites(f, configFor(f))) {
      MlpModel pristine = baseModel();
      pristine.weights().forEach((k, v) -> assertThat(base.weights().get(k).equals(v)).as("base %s", k).isTrue());
    }
  }

  void mergeUnmerge(AdapterRegistry registry, AdapterFactory<?> f) {
    MlpModel base = baseModel();
    PeftModel pm = withAdapter(registry, f, base, "default", 11);
    train(pm, 3, 5);
    Map<String, INDArray> in = inputs(2);
    Map<String, INDArray> w0 = snapshot(base);
    Map<String, QuantizedWeight> q0 = new LinkedHashMap<>(base.quantizedWeights());
    INDArray unmerged = pm.output(in);
    pm.merge();
    Map<String, INDArray> w1 = snapshot(base);
    Map<String, QuantizedWeight> q1 = new LinkedHashMap<>(base.quantizedWeights());
    INDArray merged = pm.output(in);
    // Merging into a quantized base requantizes W + dW (PEFT does the same and warns): the
    // merged output is only close. Everything else below holds exactly for every base.
    double mergeTol = q0.isEmpty() ? 1e-5 : QUANTIZED_MERGE_TOLERANCE * unmerged.amaxNumber().doubleValue();
    assertThat(maxAbsDiff(merged, unmerged)).as("merged vs unmerged").isLessThanOrEqualTo(mergeTol);
    pm.merge(); // warns, changes nothing
    w1.forEach((k, v) -> assertThat(base.weights().get(k).equals(v)).as("second merge left %s", k).isTrue());
    q1.forEach((k, v) -> assertThat(base.quantizedWeights().get(k)).as("second merge left %s", k).isSameAs(v));
    pm.unmerge();
    w0.forEach((k, v) -> assertThat(maxAbsDiff(base.weights().get(k), v)).as("unmerge restores %s", k).isLessThanOrEqualTo(1e-5));
    q0.forEach((k, v) -> assertThat(base.quantizedWeights().get(k)).as("unmerge restores quantized %s", k).isSameAs(v));
    assertThat(maxAbsDiff(pm.output(in), unmerged)).isLessThanOrEqualTo(1e-5);
    // merge-and-unload gives the same logits and leaves the model as it was
    var unloaded = pm.mergeAndUnload();
    assertThat(maxAbsDiff(baseOutput((MlpModel) unloaded, registry, in), unmerged)).isLessThanOrEqualTo(1e-5);
  }

  void disabled(AdapterRegistry registry, AdapterFactory<?> f) {
    MlpModel base = baseModel();
    PeftModel pm = withAdapter(registry, f, base, "default", 11);
    train(pm, 2, 5);
    Map<String, INDArray> in = inputs(3);
    INDArray expected = baseOutput(base, registry, in);
    pm.disableAdapters();
    assertThat(maxAbsDiff(pm.output(in), expected)).isLessThanOrEqualTo(1e-6);
    pm.enableAdapters();
  }

  void mixedBatch(AdapterRegistry registry, AdapterFactory<?> f) {
    MlpModel base = baseModel();
    PeftModel pm = withAdapter(registry, f, base, "a", 11);
    train(pm, 2, 5);
    if (rewrites(f, configFor(f))) {
      // a second base-rewriting adapter would change the base under the first: one adapter only
      checkMixed(pm, registry, base, List.of("a", PeftModel.BASE, "a", PeftModel.BASE, "a", "a"));
      return;
    }
    pm.addAdapter("b", new AdapterSpec(configFor(f), Targets.allLinear()), 12);
    pm.setActive("b");
    train(pm, 2, 6);
    checkMixed(pm, registry, base, List.of("a", PeftModel.BASE, "b", "a", "b", PeftModel.BASE));
  }

  private void checkMixed(PeftModel pm, AdapterRegistry registry, MlpModel base, List<String> rows) {
    Map<String, INDArray> in = inputs(4);
    INDArray mixed = pm.outputMixed(in, rows);
    for (int i = 0; i < rows.size(); i++) {
      INDArray single;
      if (rows.get(i).equals(PeftModel.BASE)) {
        single = baseOutput(base, registry, in);
      } else {
        pm.setActive(rows.get(i));
        single = pm.output(in);
      }
      assertThat(maxAbsDiff(mixed.getRow(i), single.getRow(i))).as("row %d (%s)", i, rows.get(i)).isLessThanOrEqualTo(1e-5);
    }
  }

  void trainableCount(AdapterRegistry registry, AdapterFactory<?> f) {
    MlpModel base = baseModel();
    PeftModel pm = withAdapter(registry, f, base, "default", 11);
    List<LinearSite> sites = Targets.allLinear().resolve(base.linearSites());
    long expected = f.trainableParametersUnchecked(configFor(f), sites);
    assertThat(pm.trainableParameters()).isEqualTo(expected);
  }

  void roundTrip(AdapterRegistry registry, AdapterFactory<?> f) {
    ConfigCodec codec = new ConfigCodec(registry);
    AdapterConfig cfg = configFor(f);
    assertThat(codec.fromJson(codec.toJson(cfg))).isEqualTo(cfg);
    assertThat(codec.fromYaml(codec.toYaml(cfg))).isEqualTo(cfg);
    assertThat(codec.fromJson(codec.toJson(f.defaultConfig()))).isEqualTo(f.defaultConfig());
  }

  @SuppressWarnings({"unchecked", "rawtypes"})
  static boolean rewrites(AdapterFactory f, AdapterConfig c) {
    return f.rewritesBase(c);
  }

  @SuppressWarnings({"unchecked", "rawtypes"})
  static boolean identity(AdapterFactory f, AdapterConfig c) {
    return f.identityAtInit(c);
  }
}
