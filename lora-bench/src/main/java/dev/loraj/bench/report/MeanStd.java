package dev.loraj.bench.report;

import java.util.Arrays;
import java.util.List;

/**
 * Mean and sample standard deviation (divisor n - 1) of one quantity over the seeds of a group;
 * {@code std} is null when n &lt; 2 (one seed says nothing about spread).
 */
public record MeanStd(double mean, Double std, int n) {

  /** Mean and sample std of the values (an empty list gives NaN with n = 0). */
  public static MeanStd of(List<Double> values) {
    int n = values.size();
    if (n == 0) {
      return new MeanStd(Double.NaN, null, 0);
    }
    double sum = 0;
    for (double v : values) {
      sum += v;
    }
    double mean = sum / n;
    if (n < 2) {
      return new MeanStd(mean, null, n);
    }
    double ss = 0;
    for (double v : values) {
      ss += (v - mean) * (v - mean);
    }
    return new MeanStd(mean, Math.sqrt(ss / (n - 1)), n);
  }

  /** The median of the values (mean of the middle two for even n); NaN for an empty list. */
  public static double median(List<Double> values) {
    if (values.isEmpty()) {
      return Double.NaN;
    }
    double[] v = values.stream().mapToDouble(Double::doubleValue).toArray();
    Arrays.sort(v);
    int m = v.length / 2;
    return v.length % 2 == 1 ? v[m] : (v[m - 1] + v[m]) / 2;
  }
}
