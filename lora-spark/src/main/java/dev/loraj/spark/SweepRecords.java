package dev.loraj.spark;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.loraj.bench.sweep.Provenance;
import dev.loraj.bench.sweep.SweepConfig;
import dev.loraj.bench.sweep.SweepPlan;
import dev.loraj.bench.sweep.TrialSpec;
import dev.loraj.eval.task.Task;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;

/**
 * The files of a sweep directory as {@code dev.loraj.bench.sweep.SweepRunner} writes them, for
 * the Spark runner: {@code sweep.json}, the "finished" test of a trial file, and the record of a
 * trial that failed outside {@code TrialRunner} (same fields as {@code TrialRunner}'s failure
 * record). SparkSweepRunnerTest compares both runners' files, so a change on one side shows.
 */
final class SweepRecords {
  private SweepRecords() {}

  /** The content of {@code sweep.json}: name, task, train, primary metric, every planned id. */
  static ObjectNode sweepRecord(ObjectMapper json, SweepConfig cfg, SweepPlan plan) {
    ObjectNode n = json.createObjectNode();
    n.put("name", cfg.name());
    n.set("task", cfg.task());
    n.set("train", cfg.train());
    n.put("primary_metric", cfg.primaryMetric());
    n.set("trials", json.valueToTree(plan.trials().stream().map(TrialSpec::id).toList()));
    return n;
  }

  /** True when {@code file} is a trial record with a status (ok or failed): the trial is done. */
  static boolean finished(ObjectMapper json, Path file) {
    if (!Files.exists(file)) {
      return false;
    }
    try {
      return json.readTree(file.toFile()).has("status");
    } catch (IOException e) {
      return false; // unreadable: run again (atomic writes make this unlikely)
    }
  }

  /**
   * A failed trial's record, for failures outside {@code TrialRunner} (the task could not be
   * built on the executor, or Spark gave up on the task). {@code task} may be null when it could
   * not be built; its fields are then null.
   */
  static ObjectNode failed(ObjectMapper json, SweepConfig cfg, TrialSpec spec, Task task, String error) {
    ObjectNode r = json.createObjectNode();
    r.put("id", spec.id());
    r.put("sweep", cfg.name());
    r.put("group", spec.group());
    r.put("variant", spec.variant());
    r.put("baseline", spec.baseline());
    if (spec.rank() == null) {
      r.putNull("rank");
    } else {
      r.put("rank", spec.rank());
    }
    r.set("config", spec.configJson());
    r.set("targets", spec.targets() == null ? null : json.valueToTree(spec.targets()));
    r.put("task", task == null ? null : task.id());
    r.put("dataset", task == null ? null : task.datasetId());
    r.put("dataset_sha256", task == null ? null : task.datasetSha256());
    r.put("seed", spec.seed());
    r.set("train", spec.specJson().get("train").deepCopy());
    r.put("primary_metric", cfg.primaryMetric());
    r.put("higher_is_better", task == null || task.higherIsBetter());
    r.put("status", "failed");
    r.put("error", error);
    r.set("loss_curve", json.createArrayNode());
    r.set("metrics", json.createObjectNode());
    ObjectNode prov = Provenance.machine();
    if (task != null) {
      prov.put("base_model", task.baseModelName());
      prov.put("dataset", task.datasetId());
      prov.put("dataset_sha256", task.datasetSha256());
    }
    prov.put("seed", spec.seed());
    prov.put("end_time", Instant.now().toString());
    r.set("provenance", prov);
    return r;
  }

  /**
   * The sweep config as JSON text, for the executors: they re-plan from it and pick their trial
   * by id (a {@code TrialSpec} holds adapter configs that are not serializable, and the plan is
   * deterministic in the config).
   */
  static String configJson(ObjectMapper json, SweepConfig cfg) {
    ObjectNode n = json.createObjectNode();
    n.put("name", cfg.name());
    n.set("task", cfg.task());
    n.set("train", cfg.train());
    n.set("seeds", json.valueToTree(cfg.seeds()));
    if (cfg.targets() != null) {
      n.set("targets", cfg.targets());
    }
    n.set("baselines", json.valueToTree(cfg.baselines()));
    n.set("variants", json.valueToTree(cfg.variants()));
    if (cfg.sample() != null) {
      n.set("sample", cfg.sample());
    }
    n.put("primary_metric", cfg.primaryMetric());
    try {
      return json.writeValueAsString(n);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("sweep config '" + cfg.name() + "' cannot be written as JSON", e);
    }
  }

  /** Reads {@link #configJson} back (JSON is YAML, which {@link SweepConfig#parse} reads). */
  static SweepConfig parseConfig(String text) {
    try {
      return SweepConfig.parse(text);
    } catch (IOException e) {
      throw new UncheckedIOException("sweep config sent to the executor does not parse: " + e.getMessage(), e);
    }
  }

  /** The spec with this id in the plan; the error says why it may be missing. */
  static TrialSpec find(SweepPlan plan, String id) {
    for (TrialSpec t : plan.trials()) {
      if (t.id().equals(id)) {
        return t;
      }
    }
    throw new IllegalStateException("trial '" + id + "' is not in the executor's plan of the sweep; "
        + "driver and executors must run the same lora-spark jar");
  }

  static JsonNode readTree(ObjectMapper json, String text) {
    try {
      return json.readTree(text);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("trial result is not JSON: " + e.getOriginalMessage(), e);
    }
  }
}
