package dev.loraj.spark;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.loraj.bench.sweep.SweepConfig;
import dev.loraj.bench.sweep.SweepPlan;
import dev.loraj.bench.sweep.SweepRunner;
import dev.loraj.bench.sweep.TrialRunner;
import dev.loraj.bench.sweep.TrialSpec;
import dev.loraj.eval.task.Task;
import java.time.Instant;
import java.util.List;

/**
 * What the Spark runner writes besides the local runner's own records ({@code SweepRunner.sweepRecord},
 * {@code SweepRunner.finished}, {@code TrialRunner}): the record of a trial that failed outside
 * {@code TrialRunner}, built from the same header, failure and provenance pieces, and the config
 * as it travels to the executors. SparkSweepRunnerTest compares both runners' files.
 */
final class SweepRecords {
  private SweepRecords() {}

  /**
   * A failed trial's record, for failures outside {@code TrialRunner} (the task could not be
   * built on the executor, or Spark gave up on the task). {@code task} may be null when it could
   * not be built; its fields are then null.
   */
  static ObjectNode failed(ObjectMapper json, SweepConfig cfg, TrialSpec spec, Task task, String error) {
    ObjectNode r = TrialRunner.header(json, cfg.name(), cfg, spec, task);
    TrialRunner.markFailed(json, r, List.of(), error);
    ObjectNode prov = TrialRunner.provenance(spec, task);
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
    ObjectNode n = SweepRunner.definition(json, cfg);
    try {
      return json.writeValueAsString(n);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("sweep config '" + cfg.name() + "' cannot be written as JSON", e);
    }
  }

  /** Reads {@link #configJson} back (JSON is YAML, which {@link SweepConfig#parse} reads). */
  static SweepConfig parseConfig(String text) {
    return SweepConfig.parse(text);
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
