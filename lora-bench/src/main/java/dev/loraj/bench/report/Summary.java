package dev.loraj.bench.report;

import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.annotation.JsonNaming;
import java.util.List;
import java.util.SortedMap;

/**
 * Everything the report shows, as written to {@code summary.json}: the sweep's identity, the
 * provenance values found in the trials (each key with its sorted distinct values), the rows
 * best first by the primary metric, each other row's difference from the reference row paired
 * by seed ({@link PairedDifference}), and the failed trials.
 *
 * @param metricNames the primary metric first, then the others in alphabetical order
 * @param provenance provenance key to the sorted distinct values across all trials
 * @param period earliest start_time and latest end_time found in the trials (may be null)
 * @param reference the group the differences are taken from (null when no row has the metric)
 * @param referenceChoice why that row: set by report.reference, or the default
 * @param differences every other row's paired difference from the reference, in row order
 */
@JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
public record Summary(
    List<String> sweeps,
    List<String> tasks,
    List<String> datasets,
    List<String> datasetSha256,
    List<String> baseModels,
    String primaryMetric,
    boolean higherIsBetter,
    List<String> metricNames,
    int trialsTotal,
    int trialsOk,
    int trialsFailed,
    List<String> period,
    SortedMap<String, List<String>> provenance,
    List<GroupSummary> rows,
    String reference,
    String referenceChoice,
    List<PairedDifference> differences,
    List<FailedTrial> failed) {

  /**
   * True when the seeds support a ranking: some row has two or more seeds in common with the
   * reference (so at least one interval exists).
   */
  public boolean rankingSupported() {
    return differences.stream().anyMatch(d -> d.n() >= 2);
  }

  /** Sweep name(s) joined for titles. */
  public String sweepName() {
    return String.join(", ", sweeps);
  }
}
