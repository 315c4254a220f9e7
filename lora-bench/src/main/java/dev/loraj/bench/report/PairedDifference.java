package dev.loraj.bench.report;

import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.annotation.JsonNaming;
import java.util.List;

/**
 * One row's primary metric minus the reference row's, paired by seed: for each seed both rows
 * finished, the difference of the two trials; their mean, and with two or more such seeds a 95%
 * confidence interval from Student's t distribution with n - 1 degrees of freedom (mean ± t ·
 * s / √n, s the sample standard deviation of the per-seed differences). Pairing removes what
 * a seed does to both rows alike (data order, initialisation of shared parts).
 *
 * @param seeds the seeds both rows finished (the pairs), ascending
 * @param mean mean of the per-seed differences (row minus reference); NaN without a pair
 * @param std sample standard deviation of the differences; null with fewer than two pairs
 * @param low lower end of the 95% interval; null with fewer than two pairs
 * @param high upper end of the 95% interval; null with fewer than two pairs
 * @param verdict what the interval says: {@code better} or {@code worse} (it excludes zero, in
 *     the metric's better or worse direction), {@code not significant} (it contains zero),
 *     {@code single seed} (one pair: no interval), {@code no common seed}
 */
@JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
public record PairedDifference(
    String group,
    String method,
    List<Long> seeds,
    double mean,
    Double std,
    Double low,
    Double high,
    String verdict) {

  public static final String BETTER = "better";
  public static final String WORSE = "worse";
  public static final String NOT_SIGNIFICANT = "not significant";
  public static final String SINGLE_SEED = "single seed";
  public static final String NO_COMMON_SEED = "no common seed";

  public PairedDifference {
    seeds = List.copyOf(seeds);
    if (!List.of(BETTER, WORSE, NOT_SIGNIFICANT, SINGLE_SEED, NO_COMMON_SEED).contains(verdict)) {
      throw new IllegalArgumentException("verdict = '" + verdict + "'; accepted: " + BETTER + ", " + WORSE
          + ", " + NOT_SIGNIFICANT + ", " + SINGLE_SEED + ", " + NO_COMMON_SEED);
    }
    if ((low == null) != (seeds.size() < 2) || (high == null) != (seeds.size() < 2)) {
      throw new IllegalArgumentException("group '" + group + "': an interval needs two or more paired seeds,"
          + " and two or more paired seeds give one (seeds " + seeds + ", low " + low + ", high " + high + ")");
    }
  }

  /** The number of paired seeds. */
  public int n() {
    return seeds.size();
  }

  /** True when the 95% interval excludes zero. */
  public boolean excludesZero() {
    return verdict.equals(BETTER) || verdict.equals(WORSE);
  }
}
