package dev.loraj.bench.sweep;

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
import java.util.List;
import java.util.stream.Stream;

/**
 * Runs the trials of a sweep (or of one shard) into {@code DIR/trials/<id>.json}. A trial file is
 * written atomically when the trial ends, so a killed sweep leaves only whole files; a rerun skips
 * every trial whose file holds a successful record and runs the rest. Trials that failed are run
 * again unless the runner keeps failures ({@code lora sweep --keep-failed}); an unreadable or
 * truncated trial file is run again. Temporary files of writers that were killed before their
 * rename (in {@code trials/} and the adapter folders) are deleted first, so no debris of a
 * crashed run can fail or hide a trial.
 */
public final class SweepRunner {

  private final AdapterRegistry registry;
  private final ObjectMapper json;
  private final PrintStream log;
  private final boolean keepFailed;

  /** A runner that runs failed trials again on a rerun. */
  public SweepRunner(AdapterRegistry registry, PrintStream log) {
    this(registry, log, false);
  }

  /** {@code keepFailed}: a rerun skips trials whose record says they failed. */
  public SweepRunner(AdapterRegistry registry, PrintStream log, boolean keepFailed) {
    this.registry = registry;
    this.json = new ConfigCodec(registry).jsonMapper();
    this.log = log;
    this.keepFailed = keepFailed;
  }

  /** Summary of one invocation. */
  public record Outcome(int planned, int skipped, int ran, int failed) {}

  public Outcome run(SweepConfig cfg, Path dir, int shardIndex, int shardCount) throws IOException {
    SweepPlan plan = SweepPlan.of(cfg, registry);
    List<TrialSpec> mine = plan.shard(shardIndex, shardCount);
    Path trials = dir.resolve("trials");
    Files.createDirectories(trials);
    int debris = removeDebris(dir);
    if (debris > 0) {
      log.println("removed " + debris + " temporary file(s) left by an interrupted run");
    }
    AtomicFiles.writeString(dir.resolve("sweep.json"),
        json.writerWithDefaultPrettyPrinter().writeValueAsString(sweepRecord(json, cfg, plan)));
    int skipped = 0;
    int ran = 0;
    int failed = 0;
    Task task = null;
    try (Progress bar = new Progress("sweep " + cfg.name(), mine.size())) {
      int done = 0;
      for (TrialSpec spec : mine) {
        Path file = trials.resolve(spec.id() + ".json");
        if (finished(json, file, keepFailed)) {
          skipped++;
          bar.update(++done, "skip " + spec.id());
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
        bar.update(++done, spec.group());
      }
    }
    return new Outcome(mine.size(), skipped, ran, failed);
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
   * adapter folder under {@code DIR/adapters}; returns how many.
   */
  public static int removeDebris(Path dir) throws IOException {
    int n = AtomicFiles.removeLeftovers(dir).size() + AtomicFiles.removeLeftovers(dir.resolve("trials")).size();
    Path adapters = dir.resolve("adapters");
    if (Files.isDirectory(adapters)) {
      try (Stream<Path> folders = Files.list(adapters)) {
        for (Path f : (Iterable<Path>) folders::iterator) {
          n += AtomicFiles.removeLeftovers(f).size();
        }
      }
    }
    return n;
  }

  /** The content of {@code sweep.json}: name, task, train, primary metric, every planned id. */
  public static ObjectNode sweepRecord(ObjectMapper json, SweepConfig cfg, SweepPlan plan) {
    ObjectNode n = json.createObjectNode();
    n.put("name", cfg.name());
    n.set("task", cfg.task());
    n.set("train", cfg.train());
    n.put("primary_metric", cfg.primaryMetric());
    n.set("trials", json.valueToTree(plan.trials().stream().map(TrialSpec::id).toList()));
    return n;
  }
}
