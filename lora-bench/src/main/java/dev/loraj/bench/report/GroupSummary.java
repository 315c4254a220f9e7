package dev.loraj.bench.report;

import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.annotation.JsonNaming;
import java.util.List;
import java.util.SortedMap;

/**
 * One row of the report: the ok trials of one {@code group} (one configuration, several seeds)
 * aggregated. Metrics and measurements are mean and sample std over seeds; {@code
 * step_ms_median} is the median over seeds of each trial's median step time. Bytes stay bytes
 * here (full precision); the Markdown and HTML tables show MiB.
 *
 * @param nOk seeds that finished (the n of the means)
 * @param nFailed seeds of this group that failed (excluded from the means)
 * @param trainablePct trainable / total parameters, in percent
 * @param memory the measured ledger by category (and {@code total}), mean over seeds; empty when
 *     the trials did not record one
 * @param peakRssDeltaBytes peak resident set over training above the resident set after set-up
 */
@JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
public record GroupSummary(
    String group,
    String method,
    boolean baseline,
    Integer rank,
    int nOk,
    int nFailed,
    List<Long> seeds,
    SortedMap<String, MeanStd> metrics,
    long trainableParams,
    long totalParams,
    double trainablePct,
    MeanStd adapterFileBytes,
    MeanStd optimizerStateBytes,
    MeanStd peakOffheapBytes,
    MeanStd peakHeapBytes,
    MeanStd peakRssBytes,
    MeanStd analyticMemoryBytes,
    SortedMap<String, MeanStd> memory,
    MeanStd peakRssDeltaBytes,
    double stepMsMedian,
    MeanStd tokensPerS,
    MeanStd trainSeconds) {

  /** The ledger categories in display order (the {@code MemoryLedger} categories). */
  public static final java.util.List<String> MEMORY_CATEGORIES =
      java.util.List.of("frozen", "quantized", "trainable", "gradients", "optimizer", "activations", "other");

  /** Mean bytes of ledger category {@code c} (or {@code total}); NaN when not recorded. */
  public double memoryMean(String c) {
    MeanStd m = memory.get(c);
    return m == null ? Double.NaN : m.mean();
  }

  /** The aggregate of a metric, or null when no ok seed recorded it. */
  public MeanStd metric(String name) {
    return metrics.get(name);
  }
}
