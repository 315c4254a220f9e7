package dev.loraj.bench.sweep;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.loraj.bench.progress.Progress;
import dev.loraj.core.adapter.AdapterRegistry;
import dev.loraj.core.adapter.ConfigCodec;
import dev.loraj.core.io.AtomicFiles;
import dev.loraj.eval.task.Task;
import dev.loraj.eval.task.Tasks;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/**
 * Runs the trials of a sweep (or of one shard) into {@code DIR/trials/<id>.json}. A trial file is
 * written atomically when the trial ends, so a killed sweep leaves only whole files; a rerun skips
 * every trial whose file holds a successful record and runs the rest. Trials that failed are run
 * again unless the runner keeps failures ({@code lora sweep --keep-failed}); an unreadable or
 * truncated trial file is run again. Temporary files of writers that were killed before their
 * rename (in {@code trials/}, the adapter and the checkpoint folders) are deleted first, so no
 * debris of a crashed run can fail or hide a trial. With {@code train.checkpoint_every: N}, a
 * trial keeps a training checkpoint in {@code DIR/checkpoints/<id>/} while it runs, and a trial
 * killed mid-way continues from its last checkpoint, with the same result as an uninterrupted run.
 */
public final class SweepRunner {

  private final AdapterRegistry registry;
  private final ObjectMapper json;
  private final PrintStream log;
  private final boolean keepFailed;
  private final boolean replaceDefinition;

  /** A runner that runs failed trials again on a rerun and refuses a changed definition. */
  public SweepRunner(AdapterRegistry registry, PrintStream log) {
    this(registry, log, false, false);
  }

  /**
   * @param keepFailed a rerun skips trials whose record says they failed
   * @param replaceDefinition a directory that holds another definition of the sweep takes this
   *     one: its {@code sweep.json} is replaced, and the report shows only this definition's trials
   */
  public SweepRunner(AdapterRegistry registry, PrintStream log, boolean keepFailed,
      boolean replaceDefinition) {
    this.registry = registry;
    this.json = new ConfigCodec(registry).jsonMapper();
    this.log = log;
    this.keepFailed = keepFailed;
    this.replaceDefinition = replaceDefinition;
  }

  /** Summary of one invocation. */
  public record Outcome(int planned, int skipped, int ran, int failed) {}

  public Outcome run(SweepConfig cfg, Path dir, int shardIndex, int shardCount) throws IOException {
    return runTrials(cfg, dir, prepare(cfg, dir, shardIndex, shardCount), true);
  }

  /**
   * Makes {@code dir} ready for the trials of one shard: creates {@code trials/}, deletes the
   * temporary files of killed writers, claims the directory for this definition
   * ({@link #claim}); returns the shard's trials, finished or not.
   */
  public List<TrialSpec> prepare(SweepConfig cfg, Path dir, int shardIndex, int shardCount) throws IOException {
    SweepPlan plan = SweepPlan.of(cfg, registry);
    List<TrialSpec> mine = plan.shard(shardIndex, shardCount);
    Files.createDirectories(dir.resolve("trials"));
    int debris = removeDebris(dir);
    if (debris > 0) {
      log.println("removed " + debris + " temporary file(s) left by an interrupted run");
    }
    claim(json, dir, sweepRecord(json, cfg, plan), replaceDefinition);
    return mine;
  }

  /** Whether trial {@code spec} of {@code dir} holds a record that need not run again. */
  public boolean finished(Path dir, TrialSpec spec) {
    return finished(json, trialFile(dir, spec.id()), keepFailed);
  }

  /** Where the record of trial {@code id} goes. */
  public static Path trialFile(Path dir, String id) {
    return dir.resolve("trials").resolve(id + ".json");
  }

  /**
   * Runs the one trial {@code id} of {@code cfg} into {@code dir}, which {@link #prepare} made
   * ready: a worker of a parallel sweep ({@code lora sweep --jobs N} runs each trial so, in a JVM
   * of its own), which neither cleans nor claims the directory that other workers write to.
   *
   * @throws IllegalArgumentException if the sweep has no trial {@code id}
   */
  public Outcome runOne(SweepConfig cfg, Path dir, String id) throws IOException {
    TrialSpec spec = SweepPlan.of(cfg, registry).trials().stream().filter(t -> t.id().equals(id))
        .findFirst().orElseThrow(() -> new IllegalArgumentException("--trial '" + id
            + "': sweep " + cfg.name() + " has no such trial"));
    return runTrials(cfg, dir, List.of(spec), false);
  }

  private Outcome runTrials(SweepConfig cfg, Path dir, List<TrialSpec> mine, boolean bar) throws IOException {
    int skipped = 0;
    int ran = 0;
    int failed = 0;
    Task task = null;
    try (Progress progress = bar ? new Progress("sweep " + cfg.name(), mine.size()) : null) {
      int done = 0;
      for (TrialSpec spec : mine) {
        Path file = trialFile(dir, spec.id());
        if (finished(json, file, keepFailed)) {
          skipped++;
          update(progress, ++done, "skip " + spec.id());
          continue;
        }
        if (task == null) {
          task = Tasks.create(cfg.task());
        }
        log.println("trial " + spec.id() + " (" + spec.group() + ", seed " + spec.seed() + ")");
        ObjectNode result = new TrialRunner(registry, json).run(cfg.name(), cfg, spec, task, dir.resolve("adapters"));
        AtomicFiles.writeString(file, json.writerWithDefaultPrettyPrinter().writeValueAsString(result));
        // A finished trial's graphs and weights hold native memory until the JVM collects them;
        // collect now so trials do not pile up (a sweep was killed by the OOM killer without this).
        System.gc();
        ran++;
        if (!"ok".equals(result.path("status").asText())) {
          failed++;
          log.println("trial " + spec.id() + " failed: " + result.path("error").asText());
        } else {
          log.println("trial " + spec.id() + ": " + result.path("metrics") + " in "
              + String.format(java.util.Locale.ROOT, "%.1f", result.path("train_seconds").asDouble()) + " s");
        }
        update(progress, ++done, spec.group());
      }
    }
    return new Outcome(mine.size(), skipped, ran, failed);
  }

  private static void update(Progress progress, int done, String status) {
    if (progress != null) {
      progress.update(done, status);
    }
  }

  /** The JSON mapper of trial records (the registry's configs). */
  public ObjectMapper json() {
    return json;
  }

  /**
   * True when {@code file} is a readable trial record whose status is {@code ok}, or
   * {@code failed} and {@code keepFailed}: the trial need not run again.
   */
  public static boolean finished(ObjectMapper json, Path file, boolean keepFailed) {
    if (!Files.isRegularFile(file)) {
      return false;
    }
    try {
      String status = json.readTree(file.toFile()).path("status").asText("");
      return status.equals("ok") || (keepFailed && status.equals("failed"));
    } catch (IOException e) {
      return false; // unreadable or truncated (damaged outside this runner): run again
    }
  }

  /**
   * Deletes temporary files of killed writers in {@code DIR/trials}, {@code DIR} itself and every
   * folder under {@code DIR/adapters} and {@code DIR/checkpoints}; returns how many.
   */
  public static int removeDebris(Path dir) throws IOException {
    int n = AtomicFiles.removeLeftovers(dir).size() + AtomicFiles.removeLeftovers(dir.resolve("trials")).size();
    for (Path parent : List.of(dir.resolve("adapters"), dir.resolve(TrialRunner.CHECKPOINTS_DIR))) {
      if (Files.isDirectory(parent)) {
        try (Stream<Path> folders = Files.list(parent)) {
          for (Path f : (Iterable<Path>) folders::iterator) {
            n += AtomicFiles.removeLeftovers(f).size();
          }
        }
      }
    }
    return n;
  }

  /**
   * The content of {@code sweep.json}: name, task, train, primary metric, the whole definition
   * (every key of the sweep file, as parsed) and every planned id.
   */
  public static ObjectNode sweepRecord(ObjectMapper json, SweepConfig cfg, SweepPlan plan) {
    ObjectNode n = json.createObjectNode();
    n.put("name", cfg.name());
    n.set("task", cfg.task());
    n.set("train", cfg.train());
    n.put("primary_metric", cfg.primaryMetric());
    n.set("definition", definition(json, cfg));
    n.set("trials", json.valueToTree(plan.trials().stream().map(TrialSpec::id).toList()));
    return n;
  }

  /**
   * Everything in the sweep file that decides which trials run and how, as a JSON tree that
   * {@link SweepConfig#parse} reads back into the same config.
   */
  public static ObjectNode definition(ObjectMapper json, SweepConfig cfg) {
    ObjectNode d = json.createObjectNode();
    d.put("name", cfg.name());
    d.set("task", cfg.task());
    d.set("train", cfg.train());
    d.set("seeds", json.valueToTree(cfg.seeds()));
    if (cfg.targets() != null) {
      d.set("targets", cfg.targets());
    }
    d.set("baselines", json.valueToTree(cfg.baselines()));
    d.set("variants", json.valueToTree(cfg.variants()));
    if (cfg.sample() != null) {
      d.set("sample", cfg.sample());
    }
    d.put("primary_metric", cfg.primaryMetric());
    if (cfg.reference() != null) {
      d.putObject("report").put("reference", cfg.reference());
    }
    if (cfg.baseDtype() != dev.loraj.core.model.BaseDtype.AUTO) {
      d.put("base_dtype", cfg.baseDtype().json());
    }
    return d;
  }

  /**
   * Makes {@code dir} the output directory of the sweep {@code record} describes: writes its
   * {@code sweep.json}, unless the directory already holds a different definition, which is
   * refused with the changed fields named (or replaced, with {@code replace}). A directory
   * belongs to one definition, so its report never mixes trials of two.
   */
  public static void claim(ObjectMapper json, Path dir, ObjectNode record, boolean replace)
      throws IOException {
    Path file = dir.resolve("sweep.json");
    if (Files.exists(file) && !replace) {
      JsonNode old;
      try {
        old = json.readTree(file.toFile());
      } catch (IOException e) {
        throw new IllegalStateException(file + " is unreadable (" + e.getMessage() + "); remove it"
            + " or choose another --out", e);
      }
      // a record without a definition names only its task, train settings and metric
      JsonNode before = old.has("definition") ? old.get("definition") : old;
      List<String> changed = new ArrayList<>();
      JsonNode now = record.get("definition");
      // neither how trials survive a kill nor how the report reads them changes a trial
      if (before.path("train").isObject()) {
        before = before.deepCopy();
        ((ObjectNode) before.get("train")).remove(SweepConfig.CHECKPOINT_EVERY);
      }
      if (before.isObject()) {
        before = before.deepCopy();
        ((ObjectNode) before).remove("report");
      }
      now = now.deepCopy();
      ((ObjectNode) now.get("train")).remove(SweepConfig.CHECKPOINT_EVERY);
      ((ObjectNode) now).remove("report");
      List<String> keys = new ArrayList<>();
      now.fieldNames().forEachRemaining(keys::add);
      for (String k : keys) {
        if (old.has("definition") || before.has(k)) {
          diff(k, before.path(k), now.path(k), changed);
        }
      }
      if (!changed.isEmpty()) {
        throw new IllegalArgumentException(dir + " holds results of another definition of this"
            + " sweep (changed: " + String.join(", ", changed) + "); choose another --out, or"
            + " pass --replace-definition to run the new definition there (the report then shows"
            + " only its trials)");
      }
    }
    AtomicFiles.writeString(file, json.writerWithDefaultPrettyPrinter().writeValueAsString(record));
  }

  /** Adds to {@code out} the dotted paths under which {@code a} and {@code b} differ. */
  private static void diff(String path, JsonNode a, JsonNode b, List<String> out) {
    if (a.isObject() && b.isObject()) {
      java.util.Set<String> keys = new java.util.TreeSet<>();
      a.fieldNames().forEachRemaining(keys::add);
      b.fieldNames().forEachRemaining(keys::add);
      for (String k : keys) {
        diff(path + "." + k, a.path(k), b.path(k), out);
      }
    } else if (a.isArray() && b.isArray() && a.size() == b.size()) {
      for (int i = 0; i < a.size(); i++) {
        diff(path + "[" + i + "]", a.get(i), b.get(i), out);
      }
    } else if (!equalValues(a, b)) {
      out.add(path);
    }
  }

  /** Equal JSON, with null and absent the same and numbers compared by value (1e-3 == 0.001). */
  private static boolean equalValues(JsonNode a, JsonNode b) {
    boolean aNone = a.isMissingNode() || a.isNull();
    boolean bNone = b.isMissingNode() || b.isNull();
    if (aNone || bNone) {
      return aNone && bNone;
    }
    if (a.isNumber() && b.isNumber()) {
      return a.decimalValue().compareTo(b.decimalValue()) == 0;
    }
    return a.equals(b);
  }
}
