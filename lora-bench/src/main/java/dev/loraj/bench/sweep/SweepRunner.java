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
import java.util.List;

/**
 * Runs the trials of a sweep (or of one shard) into {@code DIR/trials/<id>.json}. A trial file is
 * written atomically when the trial ends, so a killed sweep leaves only whole files; a rerun skips
 * every trial whose file exists and runs the rest.
 */
public final class SweepRunner {

  private final AdapterRegistry registry;
  private final ObjectMapper json;
  private final PrintStream log;

  public SweepRunner(AdapterRegistry registry, PrintStream log) {
    this.registry = registry;
    this.json = new ConfigCodec(registry).jsonMapper();
    this.log = log;
  }

  /** Summary of one invocation. */
  public record Outcome(int planned, int skipped, int ran, int failed) {}

  public Outcome run(SweepConfig cfg, Path dir, int shardIndex, int shardCount) throws IOException {
    SweepPlan plan = SweepPlan.of(cfg, registry);
    List<TrialSpec> mine = plan.shard(shardIndex, shardCount);
    Path trials = dir.resolve("trials");
    Files.createDirectories(trials);
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
        if (finished(json, file)) {
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

  /** True when {@code file} is a trial record with a status (ok or failed): the trial is done. */
  public static boolean finished(ObjectMapper json, Path file) {
    if (!Files.exists(file)) {
      return false;
    }
    try {
      JsonNode n = json.readTree(file.toFile());
      return n.has("status");
    } catch (IOException e) {
      return false; // unreadable: run again (atomic writes make this unlikely)
    }
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
