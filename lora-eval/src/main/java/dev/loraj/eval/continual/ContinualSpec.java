package dev.loraj.eval.continual;

import com.fasterxml.jackson.databind.JsonNode;
import dev.loraj.core.config.ConfigException;
import dev.loraj.core.config.ConfigNode;
import dev.loraj.core.config.Suggestions;
import dev.loraj.core.model.Targets;
import dev.loraj.eval.data.TextClassificationDataset;
import dev.loraj.variants.continual.OrthogonalLora;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.function.Supplier;

/**
 * A continual-learning comparison read from YAML/JSON (see {@code examples/continual.yaml}):
 * the sequence, the methods, seeds, task orders and the shared settings.
 *
 * <p>Reading is strict ({@link ConfigNode}): unknown keys are errors naming the nearest valid
 * key, values are type- and range-checked, empty lists are errors rather than defaults, and
 * every order must be a permutation of the sequence's tasks. {@link #definition} does all of
 * that without building the sequence (no data loaded, no model made).
 */
public record ContinualSpec(TaskSequence sequence, ContinualSettings settings, List<ContinualMethod> methods,
    List<Long> seeds, List<List<Integer>> orders, String out) {

  static final List<String> KEYS = List.of(
      "name", "sequence", "train", "adapter", "o_lora", "am_lora", "methods", "seeds", "orders", "out");
  static final List<String> SYNTHETIC_KEYS =
      List.of("kind", "tasks", "width", "classes", "shift_rank", "test_examples", "seed");
  static final List<String> TEXT_KEYS =
      List.of("kind", "datasets", "max_length", "train_examples", "test_examples", "seed");
  static final List<String> DEFAULT_DATASETS = List.of("spam", "sotu-party", "sotu-era", "source");

  /**
   * A validated comparison whose task sequence is not built yet.
   *
   * @param sequence builds the sequence (loads data, makes the base model)
   * @param taskCount how many tasks the sequence has
   */
  public record Definition(Supplier<TaskSequence> sequence, int taskCount, ContinualSettings settings,
      List<ContinualMethod> methods, List<Long> seeds, List<List<Integer>> orders, String out) {

    public ContinualSpec build() {
      return new ContinualSpec(sequence.get(), settings, methods, seeds, orders, out);
    }
  }

  /** Validates and builds. */
  public static ContinualSpec from(JsonNode root) {
    return definition(root).build();
  }

  /**
   * Validates a comparison without building its sequence.
   *
   * @throws ConfigException one line naming the key, the bad value and what is accepted
   */
  public static Definition definition(JsonNode tree) {
    ConfigNode root = ConfigNode.root(tree, "continual config").keys(KEYS);
    root.text("name", null);
    if (!root.has("sequence")) {
      throw new ConfigException("sequence is required (a mapping with kind: synthetic or text)");
    }
    ConfigNode s = root.object("sequence");
    if (!s.has("kind")) {
      throw new ConfigException("sequence.kind is required (accepted: synthetic, text)");
    }
    String kind = s.choice("kind", null, List.of("synthetic", "text"));
    long dataSeed = s.longValue("seed", 0, Long.MIN_VALUE, Long.MAX_VALUE);
    Supplier<TaskSequence> seq;
    int taskCount;
    if (kind.equals("synthetic")) {
      s.keys(SYNTHETIC_KEYS);
      int tasks = s.integer("tasks", 4, 2, 64);
      int width = s.integer("width", 32, 2, 4096);
      int classes = s.integer("classes", 3, 2, 1000);
      int shiftRank = s.integer("shift_rank", 4, 1, width);
      int test = s.integer("test_examples", 500, 1, 1_000_000);
      seq = () -> new SyntheticTaskSequence(tasks, width, classes, shiftRank, test, dataSeed);
      taskCount = tasks;
    } else {
      s.keys(TEXT_KEYS);
      List<String> datasets = s.texts("datasets", DEFAULT_DATASETS);
      List<String> available = TextClassificationDataset.available();
      for (int i = 0; i < datasets.size(); i++) {
        if (!available.contains(datasets.get(i))) {
          throw new ConfigException(s.where("datasets") + "[" + i + "] = '" + datasets.get(i) + "'"
              + Suggestions.hint(datasets.get(i), available) + " (available: " + String.join(", ", available) + ")");
        }
      }
      if (datasets.size() < 2 || new HashSet<>(datasets).size() != datasets.size()) {
        throw new ConfigException(s.where("datasets") + " = " + datasets + ": expected at least 2 distinct data sets");
      }
      int maxLength = s.integer("max_length", 64, 2, 512);
      int train = s.integer("train_examples", 0, 0, Integer.MAX_VALUE);
      int test = s.integer("test_examples", 0, 0, Integer.MAX_VALUE);
      seq = () -> new TextTaskSequence(datasets, maxLength, train, test, dataSeed);
      taskCount = datasets.size();
    }
    ConfigNode t = root.object("train").keys(List.of("steps", "batch_size", "learning_rate"));
    ConfigNode a = root.object("adapter").keys(List.of("rank", "alpha", "target_modules"));
    ConfigNode o = root.object("o_lora").keys(List.of("lambda1", "lambda2", "penalty"));
    ConfigNode am = root.object("am_lora").keys(List.of("l1"));
    Targets targets = targets(a);
    ContinualSettings settings = new ContinualSettings(
        t.integer("steps", 100, 1, 100_000_000), t.integer("batch_size", 32, 1, 1 << 20),
        t.number("learning_rate", 1e-2, 0, true, Double.MAX_VALUE),
        a.integer("rank", 4, 1, 1 << 16), a.number("alpha", 8, 0, true, Double.MAX_VALUE), targets,
        o.number("lambda1", 0.5, 0, false, Double.MAX_VALUE), o.number("lambda2", 0.0, 0, false, Double.MAX_VALUE),
        OrthogonalLora.Penalty.parse(o.choice("penalty", "squared", List.of("squared", "absolute"))),
        am.number("l1", 0.01, 0, false, Double.MAX_VALUE));
    List<ContinualMethod> methods = new ArrayList<>();
    List<String> methodIds = Arrays.stream(ContinualMethod.values()).map(ContinualMethod::id).toList();
    List<String> names = root.texts("methods", methodIds);
    for (int i = 0; i < names.size(); i++) {
      if (!methodIds.contains(names.get(i))) {
        throw new ConfigException("methods[" + i + "] = '" + names.get(i) + "'" + Suggestions.hint(names.get(i), methodIds)
            + " (accepted: " + String.join(", ", methodIds) + ")");
      }
      ContinualMethod m = ContinualMethod.parse(names.get(i));
      if (methods.contains(m)) {
        throw new ConfigException("methods lists '" + names.get(i) + "' twice");
      }
      methods.add(m);
    }
    List<Long> seeds = root.longs("seeds", List.of(1L, 2L, 3L), Long.MIN_VALUE, Long.MAX_VALUE);
    if (new HashSet<>(seeds).size() != seeds.size()) {
      throw new ConfigException("seeds = " + seeds + ": a seed is listed twice");
    }
    List<List<Integer>> orders = orders(root, taskCount);
    return new Definition(seq, taskCount, settings, List.copyOf(methods), List.copyOf(seeds), orders,
        root.text("out", "results/continual"));
  }

  private static Targets targets(ConfigNode a) {
    JsonNode tm = a.get("target_modules");
    if (tm == null || (tm.isTextual() && tm.textValue().equals(Targets.ALL_LINEAR))) {
      return Targets.allLinear();
    }
    if (tm.isTextual()) {
      throw new ConfigException(a.where("target_modules") + " = " + ConfigNode.show(tm)
          + ": expected 'all-linear' or a list of module names");
    }
    return Targets.of(a.texts("target_modules", null).toArray(String[]::new));
  }

  /** Each order a permutation of 0..n-1; default: the natural order. */
  private static List<List<Integer>> orders(ConfigNode root, int n) {
    JsonNode v = root.get("orders");
    if (v == null) {
      List<Integer> natural = new ArrayList<>();
      for (int i = 0; i < n; i++) {
        natural.add(i);
      }
      return List.of(List.copyOf(natural));
    }
    if (!v.isArray() || v.isEmpty()) {
      throw new ConfigException("orders = " + ConfigNode.show(v) + ": expected a non-empty list of task orders,"
          + " each a permutation of 0.." + (n - 1));
    }
    List<List<Integer>> out = new ArrayList<>();
    for (int k = 0; k < v.size(); k++) {
      JsonNode ord = v.get(k);
      String where = "orders[" + k + "]";
      if (!ord.isArray() || ord.size() != n) {
        throw new ConfigException(where + " = " + ConfigNode.show(ord) + ": expected a permutation of 0.." + (n - 1));
      }
      List<Integer> order = new ArrayList<>();
      for (int i = 0; i < n; i++) {
        order.add((int) ConfigNode.checkLong(where + "[" + i + "]", ord.get(i), 0, n - 1));
      }
      if (new HashSet<>(order).size() != n) {
        throw new ConfigException(where + " = " + order + ": expected a permutation of 0.." + (n - 1) + " (a task is repeated)");
      }
      out.add(List.copyOf(order));
    }
    return List.copyOf(out);
  }

  /** Every method x order x seed, in that order, nothing kept on disk (tests, small runs). */
  public List<ContinualRun> runAll(java.util.function.Consumer<ContinualRun> onRun) {
    return runAll(null, (run, reused, seconds) -> onRun.accept(run));
  }

  /** Called after each run: {@code reused} when it was read from its run file instead of trained. */
  public interface RunListener {
    void onRun(ContinualRun run, boolean reused, double seconds);
  }

  /**
   * Every method x order x seed, in that order; with {@code files}, each finished run is written
   * at once and a run whose file exists is read instead of trained (resume after a kill).
   */
  public List<ContinualRun> runAll(ContinualRunFiles files, RunListener listener) {
    ContinualRunner runner = new ContinualRunner(sequence, settings);
    List<ContinualRun> runs = new ArrayList<>();
    for (ContinualMethod m : methods) {
      for (int k = 0; k < orders.size(); k++) {
        for (long seed : seeds) {
          java.util.Optional<ContinualRun> done = files == null ? java.util.Optional.empty() : files.read(m, orders.get(k), seed);
          if (done.isPresent()) {
            listener.onRun(done.get(), true, 0);
            runs.add(done.get());
            continue;
          }
          long t0 = System.nanoTime();
          ContinualRun r = runner.run(m, orders.get(k), seed);
          double seconds = (System.nanoTime() - t0) / 1e9;
          if (files != null) {
            files.write(r, orders.get(k), seconds);
          }
          listener.onRun(r, false, seconds);
          runs.add(r);
          System.gc(); // the run's model and SameDiff graphs hold native memory until collected
        }
      }
    }
    return runs;
  }
}
