package dev.loraj.core.conformance;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.loraj.core.adapter.Adapter;
import dev.loraj.core.adapter.AdapterConfig;
import dev.loraj.core.adapter.AdapterFactory;
import dev.loraj.core.adapter.AdapterRegistry;
import dev.loraj.core.adapter.AdapterSpec;
import dev.loraj.core.adapter.ConfigCodec;
import dev.loraj.core.model.LinearSite;
import dev.loraj.core.model.MlpModel;
import dev.loraj.core.model.PeftModel;
import dev.loraj.core.model.Targets;
import dev.loraj.core.graph.Graphs;
import dev.loraj.core.quant.QuantizedBase;
import dev.loraj.core.quant.QuantizedWeight;
import dev.loraj.core.testing.ExactArrays;
import dev.loraj.core.train.Objective;
import dev.loraj.core.train.TrainConfig;
import dev.loraj.core.train.Trainer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.TreeSet;
import java.util.function.Consumer;
import java.util.stream.Stream;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import dev.loraj.core.lora.Fill;

/**
 * The contract every registered variant keeps (after litgpt's merge test and PEFT's
 * testing_common.py). A module runs it for all factories on its class path by declaring a
 * subclass that names the variants it expects ({@link #expectedVariants()}: a variant that drops
 * off the class path, e.g. through a lost {@code META-INF/services} line, fails the suite instead
 * of silently shrinking its coverage); a new variant needs no test code beyond its name there.
 *
 * <p>Besides the structural checks (identity at init, merge, disable, mixed batches, counts,
 * config round trip) the suite checks that training works: after a few steps the output has
 * moved, every parameter of {@link Adapter#parameters()} is in the training graph with a
 * nonzero gradient, and each gradient agrees with a finite difference of the training loss.
 * These training checks run for every {@link Scenario} of a variant: its default config, the
 * same with dropout where the config has a {@code dropout} field, and what a subclass adds for a
 * variant's own path ({@link #scenarios}).
 */
public abstract class AdapterConformanceSuite {

  static final List<Integer> WIDTHS = List.of(16, 24, 12, 5);
  protected static final int RANK = 4;
  protected static final double ALPHA = 8;
  /**
   * Merged vs unmerged outputs on a quantized base, relative to the largest output: the merge
   * requantizes W + dW with 4-bit codes (NF4's largest half-gap is ~0.14 of a block's absmax).
   */
  static final double QUANTIZED_MERGE_TOLERANCE = 0.1;
  /** Optimizer steps of the training checks: few, on the tiny model, for every variant. */
  static final int STEPS = 3;
  /**
   * Smallest change of the output (max abs over the batch) that counts as "training moved the
   * model" after {@link #STEPS} steps at learning rate 2e-2. Measured: VeRA moves it least
   * (4.3e-4: it trains two scaling vectors per site), every other variant by 1e-3 or more (most by
   * 1e-2 to 2e-1); an adapter whose branch contributes nothing moves it by exactly 0.
   */
  static final double TRAINED_CHANGE = 1e-4;
  /** Dropout of the dropout scenario. */
  static final double DROPOUT = 0.1;
  /**
   * Finite-difference check, in float32 (the adapters' arrays are float32, so double precision is
   * not available end to end): the training loss L is evaluated at {@code p +- h d} with
   * {@code d = g / ||g||} the unit gradient direction of one parameter tensor, and the central
   * difference {@code (L(p + h d) - L(p - h d)) / 2h} must equal {@code ||g||} (= g . d) within
   * {@code FD_RELATIVE * ||g|| + FD_ABSOLUTE}. Along its own direction a wrong gradient g' gives
   * the true g . g' / ||g'||, which equals ||g'|| only if the error is orthogonal to g'. Float32
   * rounding of an O(1) loss (~1e-7) over 2h = 2e-2 contributes ~1e-5; the third-derivative term
   * (h^2 / 6) of the central difference is far below that on this model.
   */
  static final double FD_STEP = 1e-2;
  static final double FD_RELATIVE = 2e-2;
  static final double FD_ABSOLUTE = 5e-5;
  /** The adapter under test in the training checks. */
  protected static final String UNDER_TEST = "default";
  /** ND4J's RNG seed before every run of the finite-difference check: the same dropout masks. */
  static final long FD_SEED = 31;
  /** Seed of the batch the gradient checks evaluate the loss on. */
  static final long LOSS_BATCH = 77;

  /** The registry under test: by default every factory on the class path. */
  protected AdapterRegistry registry() {
    return AdapterRegistry.discover();
  }

  /** The config used for {@code factory}: its defaults at rank 4, alpha 8. */
  protected AdapterConfig configFor(AdapterFactory<?> factory) {
    return factory.defaultConfig().withRankAndAlpha(RANK, ALPHA);
  }

  /**
   * The registry names this module's suite must find, exactly: the variants of the modules on its
   * class path. The suite fails if one is missing or one more is registered.
   */
  protected abstract Set<String> expectedVariants();

  /**
   * One configuration the training checks run under.
   *
   * @param name shown in the test name ("default", "dropout 0.1", "restarts", ...)
   * @param config the config of the adapter under test
   * @param steps optimizer steps, enough to reach the path the scenario is about
   * @param prepare runs on the model before the adapter under test is added (e.g. adds and trains
   *     the earlier tasks' adapters a continual-learning variant builds on)
   * @param reached runs after training: asserts that the scenario's path was taken (e.g. a
   *     restart happened, triplets were pruned)
   */
  protected record Scenario(String name, AdapterConfig config, int steps, Consumer<PeftModel> prepare,
      Consumer<PeftModel> reached) {
    public Scenario {
      if (name == null || name.isBlank()) {
        throw new IllegalArgumentException("name: must not be blank");
      }
      if (config == null) {
        throw new IllegalArgumentException("config: must not be null");
      }
      if (steps < 1) {
        throw new IllegalArgumentException("steps = " + steps + ": must be >= 1");
      }
      prepare = prepare == null ? pm -> {} : prepare;
      reached = reached == null ? pm -> {} : reached;
    }

    public static Scenario of(String name, AdapterConfig config) {
      return new Scenario(name, config, STEPS, null, null);
    }

    public Scenario withSteps(int n) {
      return new Scenario(name, config, n, prepare, reached);
    }

    public Scenario withPrepare(Consumer<PeftModel> p) {
      return new Scenario(name, config, steps, p, reached);
    }

    public Scenario withReached(Consumer<PeftModel> r) {
      return new Scenario(name, config, steps, prepare, r);
    }
  }

  /**
   * The scenarios of the training checks for {@code factory}: its config ({@link #configFor}) and,
   * if that config has a {@code dropout} field, the same with dropout {@value #DROPOUT}. A
   * subclass adds a variant's own path (restarts, pruning, earlier tasks).
   */
  protected List<Scenario> scenarios(AdapterFactory<?> factory) {
    List<Scenario> s = new ArrayList<>();
    s.add(Scenario.of("default", configFor(factory)));
    withDropout(registry(), configFor(factory), DROPOUT)
        .ifPresent(c -> s.add(Scenario.of("dropout " + DROPOUT, c)));
    return s;
  }

  /** {@code config} with its {@code dropout} field set to {@code p}, or empty if it has none. */
  protected static Optional<AdapterConfig> withDropout(AdapterRegistry registry, AdapterConfig config, double p) {
    ConfigCodec codec = new ConfigCodec(registry);
    ObjectNode tree = codec.toTree(config);
    if (!tree.has("dropout")) {
      return Optional.empty();
    }
    tree.put("dropout", p);
    return Optional.of(codec.fromTree(tree));
  }

  @TestFactory
  Stream<DynamicTest> conformance() {
    AdapterRegistry registry = registry();
    List<DynamicTest> tests = new ArrayList<>();
    tests.add(named("registered variants equal the expected list", () -> expectedList(registry)));
    Map<String, Trained> trained = new HashMap<>(); // one training run per scenario, shared by its checks
    for (AdapterFactory<?> f : registry.factories()) {
      String n = f.name();
      String init = identity(f, configFor(f)) ? "output unchanged at init"
          : "output at init equals the rewritten base plus the initial update";
      tests.add(named(n + ": " + init, () -> identityAtInit(registry, f)));
      tests.add(named(n + ": base weights bit-identical after training", () -> baseUntouched(registry, f)));
      tests.add(named(n + ": merge, merge twice, unmerge", () -> mergeUnmerge(registry, f)));
      tests.add(named(n + ": disabled output equals base", () -> disabled(registry, f)));
      tests.add(named(n + ": mixed batch rows equal single-adapter outputs", () -> mixedBatch(registry, f)));
      tests.add(named(n + ": trainable count equals closed form", () -> trainableCount(registry, f)));
      tests.add(named(n + ": config round-trips through JSON and YAML", () -> roundTrip(registry, f)));
      for (Scenario sc : scenarios(f)) {
        String label = n + " [" + sc.name() + "]";
        java.util.function.Supplier<Trained> run = () -> trained.computeIfAbsent(label, k -> Trained.run(registry, this, sc));
        tests.add(named(label + ": training changes the output", () -> outputMoves(run.get())));
        tests.add(named(label + ": every parameter gets a nonzero gradient",
            () -> everyParameterHasAGradient(run.get())));
        tests.add(named(label + ": gradients equal finite differences", () -> finiteDifferences(run.get())));
        if (!sc.name().equals("default")) {
          tests.add(named(label + ": base weights bit-identical after training",
              () -> baseUntouched(run.get())));
        }
        tests.add(named(label + ": a run resumed from its training checkpoint ends bit-identical",
            () -> resumedRunIsIdentical(registry, run.get())));
      }
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

  protected static void train(PeftModel pm, int steps, long seed) {
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
    MlpModel base = baseModel();
    Map<String, INDArray> original = snapshot(base);
    Map<String, INDArray> in = inputs(1);
    INDArray before = baseOutput(base, registry, in);
    PeftModel pm = withAdapter(registry, f, base, "default", 11);
    if (identity(f, cfg)) {
      double tol = rewrites(f, cfg) ? 1e-5 : 1e-6;
      assertThat(maxAbsDiff(pm.output(in), before)).as("output change at init").isLessThanOrEqualTo(tol);
      return;
    }
    if (!rewrites(f, cfg)) {
      return; // neither identity nor a rewritten base: nothing this suite can compare against
    }
    // The output at init is the rewritten (quantized) base's plus the adapter's initial update:
    // for QLoRA (B = 0) the quantized base's own output, for LoftQ and QPiSSA deq(Q) + s B A.
    Map<String, INDArray> dense = new LinkedHashMap<>(base.weights());
    Map<String, Adapter> sites = pm.adapter("default").sites();
    for (LinearSite site : base.linearSites()) {
      Adapter ad = sites.get(site.path());
      INDArray w = pm.torchLayout(site);
      dense.put(site.weightName(), ad == null ? w : w.add(ad.deltaWeight()));
    }
    INDArray expected = baseOutput(base.withWeights(dense), registry, in);
    INDArray out = pm.output(in);
    assertThat(maxAbsDiff(out, expected)).as("output at init vs rewritten base + initial update")
        .isLessThanOrEqualTo(1e-5 * Math.max(1, expected.amaxNumber().doubleValue()));
    boolean zeroUpdate = sites.values().stream().allMatch(a -> a.deltaWeight().amaxNumber().doubleValue() == 0);
    if (zeroUpdate) {
      pm.disableAdapters();
      ExactArrays.assertBitIdentical(out, pm.output(in), "output at init vs the rewritten base's (zero update)");
      pm.enableAdapters();
    }
    // and each adapted weight is no farther from the original than quantizing it alone
    for (LinearSite site : base.linearSites()) {
      QuantizedWeight q = pm.quantized(site);
      Adapter ad = sites.get(site.path());
      if (q == null || ad == null) {
        continue;
      }
      INDArray w = original.get(site.weightName());
      QuantizedWeight plain = QuantizedWeight.quantize(w, q.format(), q.blockSize(), q.doubleQuantized());
      assertThat(QuantizedBase.errorReductionRatio(w, q, ad.deltaWeight(), plain))
          .as("%s: quantization error reduction at init", site.path()).isGreaterThanOrEqualTo(-1e-6);
    }
  }

  void baseUntouched(AdapterRegistry registry, AdapterFactory<?> f) {
    MlpModel base = baseModel();
    PeftModel pm = withAdapter(registry, f, base, "default", 11);
    Map<String, INDArray> afterInit = snapshot(base);
    train(pm, 3, 5);
    ExactArrays.assertBitIdentical(base.weights(), afterInit, "base weights after training");
    if (!rewrites(f, configFor(f))) {
      ExactArrays.assertBitIdentical(base.weights(), baseModel().weights(), "base weights vs a fresh model");
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
    ExactArrays.assertBitIdentical(snapshot(base), w1, "weights after the second merge");
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

  /**
   * A dynamic test whose failures and errors start with its name: build tools report dynamic
   * tests by index ({@code conformance()[42]}), which does not say which variant and check failed.
   */
  static DynamicTest named(String name, org.junit.jupiter.api.function.Executable check) {
    return DynamicTest.dynamicTest(name, () -> {
      try {
        check.execute();
      } catch (AssertionError e) {
        throw new AssertionError(name + ": " + e.getMessage(), e);
      } catch (RuntimeException e) {
        throw new IllegalStateException(name + ": " + e, e);
      }
    });
  }

  void expectedList(AdapterRegistry registry) {
    TreeSet<String> missing = new TreeSet<>(expectedVariants());
    missing.removeAll(registry.names());
    TreeSet<String> unexpected = new TreeSet<>(registry.names());
    unexpected.removeAll(expectedVariants());
    assertThat(missing).as("expected variants not registered (a lost META-INF/services line?)").isEmpty();
    assertThat(unexpected).as("registered variants not in expectedVariants() (add them there)").isEmpty();
  }

  /**
   * A model with the scenario's adapter, its output before training, and the same model after
   * {@link Scenario#steps()} steps.
   */
  record Trained(Scenario scenario, PeftModel model, MlpModel base, Map<String, INDArray> baseAfterInit,
      INDArray before, INDArray after, LossGraph[] lossGraph) {

    /** The training loss on {@link #LOSS_BATCH} at the trained state (built once, shared by the checks). */
    LossGraph loss() {
      if (lossGraph[0] == null) {
        lossGraph[0] = LossGraph.of(model, batch(LOSS_BATCH));
      }
      return lossGraph[0];
    }

    /** The scenario's model with the adapter under test, untrained. */
    static PeftModel fresh(AdapterRegistry registry, AdapterConformanceSuite suite, Scenario sc) {
      PeftModel pm = new PeftModel(baseModel(), registry);
      suite.prepare(pm);
      sc.prepare().accept(pm);
      pm.addAdapter(UNDER_TEST, new AdapterSpec(sc.config(), Targets.allLinear()), 11);
      pm.setActive(UNDER_TEST);
      return pm;
    }

    static Trained run(AdapterRegistry registry, AdapterConformanceSuite suite, Scenario sc) {
      PeftModel pm = fresh(registry, suite, sc);
      MlpModel base = (MlpModel) pm.base();
      Map<String, INDArray> in = inputs(2);
      Map<String, INDArray> afterInit = snapshot(base);
      INDArray before = pm.output(in);
      train(pm, sc.steps(), 5);
      sc.reached().accept(pm);
      return new Trained(sc, pm, base, afterInit, before, pm.output(in), new LossGraph[1]);
    }
  }

  /**
   * A run killed after its first checkpoint and resumed in a fresh model reaches the output of
   * the uninterrupted run bit for bit; an adapter whose training state a checkpoint cannot hold
   * ({@link Adapter#trainingState()} empty) must be refused before training instead.
   */
  void resumedRunIsIdentical(AdapterRegistry registry, Trained t) throws Exception {
    Scenario sc = t.scenario();
    int every = Math.max(1, sc.steps() / 2);
    java.nio.file.Path dir = java.nio.file.Files.createTempDirectory("conformance-checkpoint");
    try {
      PeftModel killed = Trained.fresh(registry, this, sc);
      boolean capturable = killed.adapter(UNDER_TEST).sites().values().stream()
          .allMatch(a -> a.trainingState().isPresent());
      Trainer first = new Trainer(TrainConfig.of(sc.steps(), 2e-2, 5)).checkpoints(dir, every)
          .listen(new dev.loraj.core.train.TrainListener() {
            @Override
            public void onStep(long step, long total, double loss, double lr, double ms) {
              if (step == every) {
                throw new KilledRun();
              }
            }
          });
      if (!capturable) {
        org.assertj.core.api.Assertions.assertThatThrownBy(
            () -> first.train(killed, Objective.meanSquaredError(), (s, m) -> batch(5 + s)))
            .hasMessageContaining("keeps training state that a checkpoint cannot hold");
        return;
      }
      org.assertj.core.api.Assertions.assertThatThrownBy(
          () -> first.train(killed, Objective.meanSquaredError(), (s, m) -> batch(5 + s)))
          .isInstanceOf(KilledRun.class);
      PeftModel resumed = Trained.fresh(registry, this, sc);
      new Trainer(TrainConfig.of(sc.steps(), 2e-2, 5)).checkpoints(dir, every)
          .train(resumed, Objective.meanSquaredError(), (s, m) -> batch(5 + s));
      ExactArrays.assertBitIdentical(resumed.output(inputs(2)), t.after(),
          "output after resuming at step " + every + " of " + sc.steps());
    } finally {
      dev.loraj.core.train.TrainingCheckpoint.delete(dir);
    }
  }

  /** Stands for a process killed right after a checkpoint. */
  static final class KilledRun extends RuntimeException {
    KilledRun() {
      super("killed after the checkpoint");
    }
  }

  void outputMoves(Trained t) {
    assertThat(maxAbsDiff(t.after(), t.before()))
        .as("max |output change| after %d training steps", t.scenario().steps())
        .isGreaterThan(TRAINED_CHANGE);
  }

  void baseUntouched(Trained t) {
    ExactArrays.assertBitIdentical(t.base().weights(), t.baseAfterInit(), "base weights after training");
  }

  /** The training loss (objective plus regularization, as the trainer builds it) and its gradients. */
  record LossGraph(SameDiff sd, String loss, List<PeftModel.TrainableVar> trainable,
      Map<String, INDArray> gradients) {

    static LossGraph of(PeftModel pm, Map<String, INDArray> batch) {
      PeftModel.Built b = pm.build(true, null);
      SameDiff sd = b.sd();
      SDVariable loss = Objective.meanSquaredError().loss(sd, b.output());
      SDVariable total = b.regularization() == null ? loss : loss.add(b.regularization());
      sd.setLossVariables(total.name());
      Graphs.createGradFunction(sd, List.of());
      List<String> names = b.trainable().stream().map(PeftModel.TrainableVar::varName).toList();
      Nd4j.getRandom().setSeed(FD_SEED);
      var og = Graphs.gradientsAndOutputs(sd, batch, List.of(total.name()), names);
      return new LossGraph(sd, total.name(), b.trainable(), og.getGradients());
    }

    /** The loss at the current parameter values (the same dropout masks as the gradient run). */
    double value(Map<String, INDArray> batch) {
      Nd4j.getRandom().setSeed(FD_SEED);
      return Graphs.output(sd, batch, loss).getDouble(0);
    }
  }

  void everyParameterHasAGradient(Trained t) {
    LossGraph lg = t.loss();
    Map<INDArray, PeftModel.TrainableVar> byArray = new IdentityHashMap<>();
    lg.trainable().forEach(v -> byArray.put(v.array(), v));
    List<String> problems = new ArrayList<>();
    for (Map.Entry<String, Adapter> site : t.model().adapter(UNDER_TEST).sites().entrySet()) {
      Adapter ad = site.getValue();
      for (Map.Entry<String, INDArray> p : ad.parameters().entrySet()) {
        String where = p.getKey() + " at " + site.getKey();
        PeftModel.TrainableVar v = byArray.get(p.getValue());
        if (v == null) {
          problems.add(where + ": not in the training graph (forward and regularization never use it)");
          continue;
        }
        INDArray g = lg.gradients().get(v.varName());
        if (g == null) {
          problems.add(where + ": no gradient (the loss does not depend on it)");
        } else if (g.norm2Number().doubleValue() == 0) {
          problems.add(where + ": gradient is zero after " + t.scenario().steps() + " training steps");
        }
      }
    }
    assertThat(problems).as("parameters that do not train").isEmpty();
  }

  void finiteDifferences(Trained t) {
    Map<String, INDArray> batch = batch(LOSS_BATCH);
    LossGraph lg = t.loss();
    List<String> problems = new ArrayList<>();
    int checked = 0;
    for (PeftModel.TrainableVar v : lg.trainable()) {
      if (!UNDER_TEST.equals(v.adapter())) {
        continue;
      }
      Adapter ad = t.model().adapter(UNDER_TEST).sites().get(v.site());
      INDArray g = lg.gradients().get(v.varName());
      if (ad.surrogateGradients().containsKey(v.key()) || g == null) {
        continue; // a declared surrogate, or no gradient at all (the gradient check reports that)
      }
      double norm = g.norm2Number().doubleValue();
      if (norm == 0) {
        continue;
      }
      INDArray p = v.array();
      INDArray p0 = p.dup();
      INDArray step = g.reshape(p.shape()).castTo(p.dataType()).mul(FD_STEP / norm);
      p.addi(step);
      double plus = lg.value(batch);
      p.assign(p0).subi(step);
      double minus = lg.value(batch);
      p.assign(p0);
      double fd = (plus - minus) / (2 * FD_STEP);
      checked++;
      if (!(Math.abs(fd - norm) <= FD_RELATIVE * norm + FD_ABSOLUTE)) {
        problems.add(String.format(java.util.Locale.ROOT, "%s at %s: ||g|| = %.6g, finite difference %.6g",
            v.key(), v.site(), norm, fd));
      }
    }
    assertThat(problems).as("gradients that disagree with the loss").isEmpty();
    assertThat(checked).as("parameters checked").isPositive();
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
