package dev.loraj.bench.report;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.loraj.bench.sweep.TrialResult;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * A made-up sweep with known numbers: lora r=4 (accuracy 0.80/0.82/0.84), dora r=8
 * (0.85/0.86/0.87, plus one failed seed) and the head_only baseline (0.70/0.71/0.75).
 */
final class SyntheticTrials {

  static final double[] LORA = {0.80, 0.82, 0.84};
  static final double[] DORA = {0.85, 0.86, 0.87};
  static final double[] HEAD = {0.70, 0.71, 0.75};

  private SyntheticTrials() {}

  static List<TrialResult> trials() {
    List<TrialResult> out = new ArrayList<>();
    for (int s = 0; s < 3; s++) {
      out.add(trial("lora r=4 a=8", "lora", false, 4, s + 1, LORA[s], 8_192, 300L << 20, 1.0 + s));
      out.add(trial("dora r=8 a=16", "dora", false, 8, s + 1, DORA[s], 16_640, 310L << 20, 2.0 + s));
      out.add(trial("head_only", TrialResult.HEAD_ONLY, true, null, s + 1, HEAD[s], 1_026, 250L << 20, 0.5));
    }
    out.add(failed("dora r=8 a=16", "dora", 8, 4,
        "java.lang.IllegalStateException: loss is NaN at step 17\n\tat dev.loraj.core.Trainer.step"));
    return out;
  }

  /** {@link #trials()} plus a full fine-tuning baseline (0.87/0.88/0.89, all parameters, more memory). */
  static List<TrialResult> withFullFineTuning() {
    List<TrialResult> out = new ArrayList<>(trials());
    double[] acc = {0.87, 0.88, 0.89};
    for (int s = 0; s < 3; s++) {
      out.add(trial("full_ft", TrialResult.FULL_FT, true, null, s + 1, acc[s], 1_000_000,
          900L << 20, 1.2));
    }
    return out;
  }

  /** Writes the trials as DIR/trials/<id>.json. */
  static void write(Path dir, List<TrialResult> trials) throws IOException {
    for (TrialResult t : trials) {
      t.write(dir.resolve("trials").resolve(t.id() + ".json"));
    }
  }

  static TrialResult trial(String group, String variant, boolean baseline, Integer rank, long seed,
      double accuracy, long trainable, long offheap, double lossOffset) {
    ObjectNode config = null;
    if (!baseline) {
      config = JsonNodeFactory.instance.objectNode().put("type", variant).put("rank", rank)
          .put("alpha", 2.0 * rank);
    }
    List<Double> loss = new ArrayList<>();
    for (int step = 0; step < 50; step++) {
      loss.add(lossOffset * Math.exp(-step / 15.0) + 0.3 + 0.01 * seed);
    }
    return new TrialResult(id(group, seed), "synthetic-sst2", group, variant, baseline, rank,
        config, baseline ? null : JsonNodeFactory.instance.objectNode().put("all_linear", true),
        "classification", "synthetic-sst2-v1", "ab12cd34", seed,
        JsonNodeFactory.instance.objectNode().put("steps", 50).put("lr", 1e-3).put("batch_size", 16),
        Map.of("accuracy", accuracy, "macro_f1", accuracy - 0.01, "eval_loss", 1 - accuracy),
        "accuracy", true, loss, List.of(), trainable, 1_000_000L, trainable * 4, trainable * 8,
        offheap + seed * (1L << 20), 64L << 20, 900L << 20, 280L << 20,
        ledger(trainable, offheap + seed * (1L << 20)), ledger(trainable, offheap), offheap + (100L << 20),
        700L << 20, "VmHWM", 20.0 + seed, 5000.0 - seed * 10, 12.5 + seed, TrialResult.Status.OK, null,
        provenance(seed));
  }

  static TrialResult failed(String group, String variant, Integer rank, long seed, String error) {
    return new TrialResult(id(group, seed), "synthetic-sst2", group, variant, false, rank, null,
        null, "classification", "synthetic-sst2-v1", "ab12cd34", seed, null, Map.of(), "accuracy",
        true, List.of(), List.of(), 0, 0, 0, 0, 0, 0, 0, 0, null, null, 0, 0, null, 0, 0, 0, TrialResult.Status.FAILED, error,
        provenance(seed));
  }

  /** A ledger: the frozen million parameters, the trainable ones with Adam, the rest activations. */
  static Map<String, Long> ledger(long trainable, long activations) {
    boolean full = trainable >= 1_000_000L;
    Map<String, Long> m = new java.util.LinkedHashMap<>();
    m.put("frozen", full ? 0 : 4_000_000L);
    m.put("quantized", 0L);
    m.put("trainable", 4 * trainable);
    m.put("gradients", 4 * trainable);
    m.put("optimizer", 8 * trainable);
    m.put("activations", activations);
    m.put("other", 1L << 20);
    m.put("total", m.values().stream().mapToLong(Long::longValue).sum());
    return m;
  }

  private static String id(String group, long seed) {
    return group.replaceAll("[^a-z0-9]+", "_") + "_s" + seed;
  }

  private static ObjectNode provenance(long seed) {
    return JsonNodeFactory.instance.objectNode()
        .put("git_revision", "e1280f1").put("framework_version", "0.1.0-SNAPSHOT")
        .put("jdk", "17.0.15").put("os", "Linux").put("arch", "amd64")
        .put("cpu_model", "Test CPU @ 2.0GHz").put("cores", 2).put("nd4j_backend", "nd4j-native")
        .put("blas", "OpenBLAS 0.3.19 SkylakeX").put("dataset", "synthetic-sst2-v1")
        .put("dataset_sha256", "ab12cd34").put("base_model", "tiny-bert-synthetic")
        .put("seed", seed).put("start_time", "2025-01-0" + seed + "T10:00:00Z")
        .put("end_time", "2025-01-0" + seed + "T10:05:00Z");
  }
}
