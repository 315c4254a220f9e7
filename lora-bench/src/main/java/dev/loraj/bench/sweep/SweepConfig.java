package dev.loraj.bench.sweep;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.loraj.core.config.ConfigException;
import dev.loraj.core.config.ConfigNode;
import dev.loraj.core.config.ConfigFiles;
import dev.loraj.core.model.BaseDtype;
import dev.loraj.core.model.Targets;
import dev.loraj.eval.task.Tasks;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A sweep file (YAML or JSON):
 *
 * <pre>
 * name: quickstart
 * task: {kind: text-classification, dataset: sotu-party, model: minilm, max_length: 64}
 * train: {steps: 100, batch_size: 16, learning_rate: 1e-3, warmup_steps: 10, schedule: linear}
 * seeds: [1, 2, 3]
 * targets: {target_modules: [query, value]}
 * baselines:
 *   - {kind: head_only, learning_rate: 2e-3}
 *   - {kind: full_ft, learning_rate: 1e-4, seeds: [1, 2]}  # seeds: this entry's own seeds
 * variants:
 *   - {type: lora, rank: [4, 8], alpha: 16}        # a list is a grid axis
 *   - {type: dora, rank: 8, learning_rate: [5e-4, 1e-3]}
 * sample: {count: 6, seed: 1}                      # optional: a random subset of the grid
 * report: {reference: lora}                        # optional: the row others are compared with
 * base_dtype: auto                                 # optional: auto (default), bf16, f16, f32
 * </pre>
 *
 * {@code base_dtype} is the type the frozen linear weights are held in ({@link BaseDtype}):
 * {@code bf16} or {@code f16} hold them at 2 bytes a parameter and compute in float32; trained
 * weights (adapters, heads, full fine-tuning) and optimizer state stay float32. The tasks' base
 * models are float32, so {@code auto} and {@code f32} both keep them float32.
 *
 * In a variant entry, {@code type} names the variant, {@code learning_rate}, {@code targets} and
 * {@code seeds} override the sweep's, and every other key is a field of the variant's config; any
 * of them but {@code seeds} and {@code targets} may be a list, which makes it an axis of the grid.
 * {@code report} changes only how the report reads the trials, never which trials run, so a
 * rerun with another {@code report} section reuses every trial.
 */
public record SweepConfig(
    String name,
    JsonNode task,
    ObjectNode train,
    List<Long> seeds,
    JsonNode targets,
    List<ObjectNode> baselines,
    List<ObjectNode> variants,
    JsonNode sample,
    String primaryMetric,
    String reference,
    BaseDtype baseDtype) {

  public SweepConfig {
    if (name == null || name.isBlank()) {
      throw new ConfigException("sweep config: 'name' is required");
    }
    if (task == null || !task.isObject()) {
      throw new ConfigException("sweep config: 'task' is required (a mapping with 'kind')");
    }
    if (train == null) {
      throw new ConfigException("sweep config: 'train' is required (steps, batch_size, learning_rate)");
    }
    seeds = seeds == null ? List.of(1L) : List.copyOf(seeds);
    if (seeds.isEmpty()) {
      throw new ConfigException("sweep config: seeds = []: expected a non-empty list of integers");
    }
    baselines = baselines == null ? List.of() : List.copyOf(baselines);
    variants = variants == null ? List.of() : List.copyOf(variants);
    if (variants.isEmpty() && baselines.isEmpty()) {
      throw new ConfigException("sweep config: nothing to run (no 'variants' and no 'baselines')");
    }
    baseDtype = baseDtype == null ? BaseDtype.AUTO : baseDtype;
  }

  static final List<String> KEYS = List.of(
      "name", "task", "train", "seeds", "targets", "baselines", "variants", "sample", "primary_metric", "report",
      "base_dtype");

  /** Keys of the {@code report} section. */
  static final List<String> REPORT_KEYS = List.of("reference");

  /** The report's default reference row: the best group of this variant. */
  public static final String DEFAULT_REFERENCE = "lora";

  /** Per-entry key: the entry's own seeds, in place of the sweep's {@code seeds}. */
  public static final String SEEDS = "seeds";

  static final List<String> TRAIN_KEYS = List.of(
      "steps", "batch_size", "learning_rate", "weight_decay", "warmup_steps", "schedule",
      "max_grad_norm", "accumulation", "checkpoint_every", "checkpointing");

  /**
   * Train key that changes how a trial survives a kill, never its result: left out of trial ids
   * and of the comparison of a rerun's definition with the directory's.
   */
  public static final String CHECKPOINT_EVERY = "checkpoint_every";

  /**
   * Train key for gradient checkpointing per transformer block ({@code Trainer#checkpointing}):
   * the same losses and parameters, less activation memory, a longer step. Part of a trial's
   * id, as its memory and time are part of its record.
   */
  public static final String CHECKPOINTING = "checkpointing";

  /** Target selection keys ({@link Targets}' JSON form). */
  static final List<String> TARGET_KEYS = List.of(
      "target_modules", "exclude_modules", "layers", "rank_pattern", "alpha_pattern", "modules_to_save");

  static final List<String> BASELINE_KEYS = List.of("kind", "learning_rate", SEEDS);

  /** Keys every variant entry may hold (its config's fields come on top, per variant). */
  static final List<String> VARIANT_KEYS = List.of("type", "rank", "alpha", "dropout", "learning_rate", SEEDS);

  static final List<String> SCHEDULES = List.of("constant", "linear", "cosine");

  /** More trials than this is a typo (a list where a scalar was meant), not a sweep. */
  static final long MAX_TRIALS = 100_000;

  /** Upper bounds that keep a typo from asking for a run that cannot fit any machine. */
  static final int MAX_STEPS = 100_000_000;

  static final int MAX_BATCH = 1 << 20;

  /**
   * Reads a sweep file (YAML, or JSON by its {@code .json} suffix).
   *
   * @throws ConfigException for a file that is missing, a directory, not parsable, or whose
   *     content is not a valid sweep: one line naming the key, the value and what is accepted
   */
  public static SweepConfig read(Path file) throws IOException {
    return fromTree(ConfigFiles.readTree(file, "sweep config"), "sweep config " + file);
  }

  /** Parses YAML (JSON is YAML) text. */
  public static SweepConfig parse(String yaml) {
    return fromTree(ConfigFiles.parse(yaml, false, "sweep config"), "sweep config");
  }

  private static SweepConfig fromTree(JsonNode tree, String what) {
    ConfigNode root = ConfigNode.root(tree, what);
    misplacedKeys(root.json());
    root.keys(KEYS);
    String name = root.text("name", null);
    if (name == null || name.isBlank()) {
      throw new ConfigException("name is required (the sweep's name; the default output directory is runs/<name>)");
    }
    if (!name.matches("[A-Za-z0-9._-]+") || name.equals(".") || name.equals("..")) {
      throw new ConfigException("name = '" + name + "': expected letters, digits, '.', '_' or '-' only (it names"
          + " the output directory runs/<name>)");
    }
    if (!root.has("task")) {
      throw new ConfigException("task is required (a mapping with 'kind': " + String.join(", ", Tasks.KINDS) + ")");
    }
    Tasks.check(root.get("task"), "task");
    if (!root.has("train")) {
      throw new ConfigException("train is required (a mapping with steps, batch_size, learning_rate)");
    }
    ConfigNode train = root.object("train").keys(TRAIN_KEYS);
    checkTrain(train);
    List<Long> seeds = seeds(root, List.of(1L));
    if (root.has("targets")) {
      checkTargets(root.object("targets"));
    }
    List<ObjectNode> baselines = entries(root, "baselines");
    for (int i = 0; i < baselines.size(); i++) {
      ConfigNode b = ConfigNode.at(baselines.get(i), "baselines[" + i + "]").keys(BASELINE_KEYS);
      if (!b.has("kind")) {
        throw new ConfigException(b.where("kind") + " is required (accepted: head_only, full_ft)");
      }
      b.choice("kind", null, List.of(TrialSpec.HEAD_ONLY, TrialSpec.FULL_FT));
      checkLearningRates(b);
      seeds(b, seeds);
    }
    List<ObjectNode> variants = entries(root, "variants");
    long trials = 0;
    for (int i = 0; i < variants.size(); i++) {
      ConfigNode v = ConfigNode.at(variants.get(i), "variants[" + i + "]");
      if (!v.has("type")) {
        throw new ConfigException(v.where("type") + " is required: the variant's name (see `lora variants`)");
      }
      v.text("type", null);
      checkLearningRates(v);
      long entrySeeds = seeds(v, seeds).size();
      if (v.has("targets")) {
        checkTargets(v.object("targets"));
      }
      long points = 1;
      for (var it = v.json().fields(); it.hasNext(); ) {
        var e = it.next();
        if (e.getValue().isArray() && !NOT_AXES.contains(e.getKey())) {
          if (e.getValue().isEmpty()) {
            throw new ConfigException(v.where(e.getKey()) + " = []: a list is a grid axis and needs at least one value");
          }
          points = Math.min(MAX_TRIALS + 1, points * e.getValue().size()); // no overflow: both factors are bounded
        }
      }
      trials = Math.min(MAX_TRIALS + 1, trials + points * entrySeeds);
    }
    trials = Math.min(MAX_TRIALS + 1, trials + baselineTrials(baselines, seeds));
    if (trials > MAX_TRIALS) {
      throw new ConfigException("the grid has more than " + MAX_TRIALS + " trials (entries x list values x"
          + " seeds), which is refused (a list where a single value was meant?)");
    }
    JsonNode sample = null;
    if (root.has("sample")) {
      ConfigNode s = root.object("sample").keys(List.of("count", "seed"));
      if (!s.has("count")) {
        throw new ConfigException("sample.count is required (how many grid points to run)");
      }
      s.integer("count", 1, 1, Integer.MAX_VALUE);
      s.longValue("seed", 0, Long.MIN_VALUE, Long.MAX_VALUE);
      sample = s.json();
    }
    String reference = null;
    if (root.has("report")) {
      ConfigNode r = root.object("report").keys(REPORT_KEYS);
      reference = r.text("reference", null);
      if (reference != null && reference.isBlank()) {
        throw new ConfigException(r.where("reference") + " = '': expected a group label (as the report shows"
            + " it, e.g. 'lora r=8 a=16') or a method name (e.g. lora, head_only, full_ft)");
      }
    }
    return new SweepConfig(
        name,
        root.get("task"),
        (ObjectNode) root.get("train"),
        seeds,
        root.get("targets"),
        baselines,
        variants,
        sample,
        root.text("primary_metric", "accuracy"),
        reference,
        BaseDtype.parse(root.choice("base_dtype", "auto", List.of("auto", "bf16", "f16", "f32"))));
  }

  /** Entry keys that hold a list without being a grid axis. */
  static final List<String> NOT_AXES = List.of("targets", SEEDS);

  /** The seeds of {@code node} ({@code fallback} when absent): integers, none listed twice. */
  private static List<Long> seeds(ConfigNode node, List<Long> fallback) {
    List<Long> seeds = node.longs(SEEDS, fallback, Long.MIN_VALUE, Long.MAX_VALUE);
    if (new java.util.HashSet<>(seeds).size() != seeds.size()) {
      throw new ConfigException(node.where(SEEDS) + " = " + seeds + ": a seed is listed twice (its trials would run twice)");
    }
    return seeds;
  }

  /** The seeds of a baseline or variant entry: its own {@code seeds}, else the sweep's. */
  public List<Long> seedsOf(ObjectNode entry) {
    JsonNode s = entry.get(SEEDS);
    if (s == null || s.isNull()) {
      return seeds;
    }
    List<Long> out = new ArrayList<>();
    s.forEach(v -> out.add(v.asLong()));
    return out;
  }

  /** A top-level key that belongs one level down (rank: 8 instead of under variants:). */
  private static void misplacedKeys(JsonNode root) {
    for (var it = root.fieldNames(); it.hasNext(); ) {
      String k = it.next();
      if (KEYS.contains(k) || dev.loraj.core.config.Suggestions.nearest(k, KEYS).isPresent()) {
        continue; // known, or a typo of a top-level key: ConfigNode.keys says which
      }
      var train = dev.loraj.core.config.Suggestions.nearest(k, TRAIN_KEYS);
      var entry = dev.loraj.core.config.Suggestions.nearest(k, VARIANT_KEYS);
      if (train.isPresent() || entry.isPresent()) {
        throw new ConfigException("unknown key '" + k + "' at the top level; did you mean '"
            + train.orElseGet(entry::get) + "' " + (train.isPresent() ? "under train:" : "in an entry of variants:")
            + "? (top-level keys: " + String.join(", ", KEYS) + ")");
      }
    }
  }

  private static void checkTrain(ConfigNode t) {
    for (String key : List.of("steps", "batch_size", "learning_rate")) {
      if (!t.has(key)) {
        throw new ConfigException(t.where(key) + " is required");
      }
    }
    int steps = t.integer("steps", 0, 1, MAX_STEPS);
    t.integer("batch_size", 0, 1, MAX_BATCH);
    t.number("learning_rate", 0, 0, true, Double.MAX_VALUE);
    t.number("weight_decay", 0, 0, false, Double.MAX_VALUE);
    t.integer("warmup_steps", 0, 0, steps);
    t.choice("schedule", "linear", SCHEDULES);
    t.number("max_grad_norm", 0, 0, false, Double.MAX_VALUE);
    t.integer("accumulation", 1, 1, MAX_BATCH);
    t.integer(CHECKPOINT_EVERY, 0, 0, steps);
    t.bool(CHECKPOINTING, false);
  }

  /** {@code learning_rate} of an entry: a number > 0 or a non-empty list of them (a grid axis). */
  private static void checkLearningRates(ConfigNode entry) {
    JsonNode lr = entry.get("learning_rate");
    if (lr == null) {
      return;
    }
    if (lr.isArray()) {
      for (int i = 0; i < lr.size(); i++) {
        ConfigNode.checkNumber(entry.where("learning_rate") + "[" + i + "]", lr.get(i), 0, true, Double.MAX_VALUE);
      }
    } else {
      entry.number("learning_rate", 0, 0, true, Double.MAX_VALUE);
    }
  }

  private static void checkTargets(ConfigNode targets) {
    targets.keys(TARGET_KEYS);
    JsonNode tm = targets.get("target_modules");
    if (tm != null && !tm.isTextual() && !tm.isArray()) {
      throw new ConfigException(targets.where("target_modules") + " = " + ConfigNode.show(tm)
          + ": expected a list of module names, a regex, or 'all-linear'");
    }
  }

  private static long baselineTrials(List<ObjectNode> baselines, List<Long> seeds) {
    long n = 0;
    for (ObjectNode b : baselines) {
      JsonNode lr = b.get("learning_rate");
      JsonNode own = b.get(SEEDS);
      n += (lr != null && lr.isArray() ? Math.max(1, lr.size()) : 1) * (own != null && own.isArray() ? own.size() : seeds.size());
    }
    return n;
  }

  private static List<ObjectNode> entries(ConfigNode root, String field) {
    List<ObjectNode> out = new ArrayList<>();
    JsonNode n = root.get(field);
    if (n == null) {
      return out;
    }
    if (!n.isArray()) {
      throw new ConfigException(field + " = " + ConfigNode.show(n) + ": expected a list of mappings");
    }
    for (int i = 0; i < n.size(); i++) {
      out.add((ObjectNode) ConfigNode.at(n.get(i), field + "[" + i + "]").json());
    }
    return out;
  }
}
