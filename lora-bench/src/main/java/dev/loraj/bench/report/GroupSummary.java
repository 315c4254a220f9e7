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
    double stepMsMedian,
    MeanStd tokensPerS,
    MeanStd trainSeconds) {

  /** The aggregate of a metric, or null when no ok seed recorded it. */
  public MeanStd metric(String name) {
    return metrics.get(name);
  }
}
