package dev.loraj.eval.reproduce;

import java.util.Locale;

/** Mean and sample standard deviation of a few seeds' figures, and how they print. */
record Stats(double mean, double sd, double min, double max, int n) {

  static Stats of(double[] v) {
    double m = 0;
    double lo = Double.POSITIVE_INFINITY;
    double hi = Double.NEGATIVE_INFINITY;
    for (double x : v) {
      m += x;
      lo = Math.min(lo, x);
      hi = Math.max(hi, x);
    }
    m /= v.length;
    double ss = 0;
    for (double x : v) {
      ss += (x - m) * (x - m);
    }
    return new Stats(m, v.length > 1 ? Math.sqrt(ss / (v.length - 1)) : 0, lo, hi, v.length);
  }

  boolean finite() {
    return Double.isFinite(mean) && Double.isFinite(sd);
  }

  /** "0.123 +- 0.004" with {@code digits} significant digits. */
  String show(int digits) {
    return String.format(Locale.ROOT, "%." + digits + "g +- %.2g", mean, sd);
  }

  /** True when {@code this} is lower than {@code other} by more than the sum of their standard deviations. */
  boolean lowerBeyondSpread(Stats other) {
    return other.mean - mean > sd + other.sd;
  }
}
