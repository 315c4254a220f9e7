package dev.loraj.bench.sweep;

import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.annotation.JsonNaming;
import dev.loraj.core.adapter.ConfigCodec;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The result of one trial (one variant or baseline, one config, one seed), written by the sweep
 * runner as {@code DIR/trials/<id>.json} and read by {@code dev.loraj.bench.report.Report}.
 * Field names are snake_case on disk ({@link JsonNaming} here, so any mapper reads them the
 * same way).
 *
 * <p>Memory fields are bytes, times milliseconds or seconds as their names say. {@code
 * loss_curve} holds the training loss per step (the objective plus any regularization term of
 * the adapter, the quantity the gradients are of); {@code task_loss_curve}, written only for
 * adapters with a regularization term (AdaLoRA's orthogonality penalty), the objective alone
 * (null for steps a resumed trial restored from a checkpoint). Failed trials keep {@code status = failed} and
 * an {@code error}; their measurements may be zero and are never averaged.
 *
 * @param group the label that groups seeds of one configuration, e.g. {@code "lora r=8 a=16"}
 * @param variant the registry name, or {@code head_only} / {@code full_ft} for baselines
 * @param config the full adapter config including {@code type}; null for baselines
 * @param targets the target selection as written in the sweep file; may be null
 * @param train training settings (steps, lr, batch size, ...)
 * @param metrics evaluation metrics by name (accuracy, macro_f1, eval_loss, ...)
 * @param primaryMetric the metric the sweep ranks by; must be a key of {@code metrics} for ok
 *     trials
 * @param analyticMemoryBytes {@code MemoryEstimator}'s total for the trial's model, method and config
 * @param memory the measured ledger: bytes by category (frozen, quantized, trainable, gradients,
 *     optimizer, activations, other) and their total; empty in records written before it existed
 * @param memoryEstimate the estimate by the same categories (activations include the workspace)
 * @param peakRssBytes the process's peak resident set over the trial (load, set-up, training)
 * @param peakRssDeltaBytes the peak resident set over training above the resident set after set-up
 * @param peakRssSource {@code VmHWM} (the kernel's peak, reset per phase) or {@code sampled}
 * @param provenance git_revision, framework_version, jdk, os, arch, cpu_model, cores,
 *     nd4j_backend, blas, dataset, dataset_sha256, seed, start_time, end_time (and base_model)
 */
@JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
public record TrialResult(
    String id,
    String sweep,
    String group,
    String variant,
    boolean baseline,
    Integer rank,
    JsonNode config,
    JsonNode targets,
    String task,
    String dataset,
    String datasetSha256,
    long seed,
    JsonNode train,
    Map<String, Double> metrics,
    String primaryMetric,
    boolean higherIsBetter,
    List<Double> lossCurve,
    List<Double> taskLossCurve,
    long trainableParams,
    long totalParams,
    long adapterFileBytes,
    long optimizerStateBytes,
    long peakOffheapBytes,
    long peakHeapBytes,
    long peakRssBytes,
    long analyticMemoryBytes,
    Map<String, Long> memory,
    Map<String, Long> memoryEstimate,
    long peakRssDeltaBytes,
    long rssAfterSetupBytes,
    String peakRssSource,
    double stepMsMedian,
    double tokensPerS,
    double trainSeconds,
    Status status,
    String error,
    JsonNode provenance) {

  /** Name of the head-only baseline variant (only the classification head is trained). */
  public static final String HEAD_ONLY = "head_only";
  /** Name of the full fine-tuning baseline variant. */
  public static final String FULL_FT = "full_ft";

  /** Outcome of a trial; on disk {@code "ok"} or {@code "failed"}. */
  public enum Status {
    @JsonProperty("ok") OK,
    @JsonProperty("failed") FAILED
  }

  public TrialResult {
    requireText("id", id, id);
    requireText("sweep", sweep, id);
    requireText("group", group, id);
    requireText("variant", variant, id);
    requireText("primary_metric", primaryMetric, id);
    if (status == null) {
      throw new IllegalArgumentException(
          "trial '" + id + "': status is missing; accepted: \"ok\" or \"failed\"");
    }
    if (rank != null && rank <= 0) {
      throw new IllegalArgumentException(
          "trial '" + id + "': rank = " + rank + "; accepted: a positive integer or null");
    }
    config = nullIfJsonNull(config);
    targets = nullIfJsonNull(targets);
    train = nullIfJsonNull(train);
    provenance = nullIfJsonNull(provenance);
    metrics = metrics == null ? Map.of() : java.util.Collections.unmodifiableMap(new TreeMap<>(metrics));
    lossCurve = lossCurve == null ? List.of() : List.copyOf(lossCurve);
    taskLossCurve = taskLossCurve == null ? List.of()
        : taskLossCurve.stream().map(l -> l == null ? Double.NaN : l).toList();
    memory = memory == null ? Map.of() : java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(memory));
    memoryEstimate = memoryEstimate == null ? Map.of()
        : java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(memoryEstimate));
  }

  /**
   * The objective's loss per step, without the adapter's regularization: {@code task_loss_curve}
   * when recorded (NaN where unknown), else {@code loss_curve}.
   */
  public List<Double> taskLoss() {
    return taskLossCurve.isEmpty() ? lossCurve : taskLossCurve;
  }

  /** Bytes of ledger category {@code c} (or {@code total}); 0 when not recorded. */
  public long memoryBytes(String c) {
    Long v = memory.get(c);
    return v == null ? 0 : v;
  }

  /** True when the trial finished and its numbers may be averaged. */
  public boolean ok() {
    return status == Status.OK;
  }

  /** The value of a metric, or null when the trial did not record it. */
  public Double metric(String name) {
    return metrics.get(name);
  }

  /** A text field of {@code provenance}, or null. */
  public String provenanceText(String key) {
    if (provenance == null || !provenance.hasNonNull(key)) {
      return null;
    }
    JsonNode v = provenance.get(key);
    return v.isValueNode() ? v.asText() : v.toString();
  }

  /** The mapper trial files are written and read with (ConfigCodec's settings, indented). */
  public static ObjectMapper mapper() {
    return ConfigCodec.configure(new ObjectMapper()).enable(SerializationFeature.INDENT_OUTPUT);
  }

  /** Writes this trial as JSON to {@code file} (creating parent directories). */
  public void write(Path file) throws IOException {
    Path parent = file.toAbsolutePath().getParent();
    if (parent != null) {
      Files.createDirectories(parent);
    }
    mapper().writeValue(file.toFile(), this);
  }

  /** Reads one trial file; the error names the file. */
  public static TrialResult read(Path file) throws IOException {
    try {
      return mapper().readValue(file.toFile(), TrialResult.class);
    } catch (IOException | IllegalArgumentException e) {
      throw new IOException("cannot read trial file " + file + ": " + e.getMessage(), e);
    }
  }

  private static JsonNode nullIfJsonNull(JsonNode n) {
    return n == null || n.isNull() || n.isMissingNode() ? null : n;
  }

  private static void requireText(String field, String value, String id) {
    if (value == null || value.isBlank()) {
      throw new IllegalArgumentException(
          "trial '" + id + "': field '" + field + "' is missing or blank; a non-empty string is required");
    }
  }
}
