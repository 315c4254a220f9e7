package dev.loraj.eval.continual;

/**
 * Metrics of an accuracy matrix R, R[i][j] = accuracy on the j-th task of the order after
 * training the i-th (0-based, n x n): average accuracy (AA) and backward transfer (BWT) as in
 * Lopez-Paz and Ranzato 2017 (GEM) and O-LoRA's Table/appendix; forgetting as in Chaudhry et al.
 * 2018 (RWalk): f_j = max_{l < n-1} R[l][j] - R[n-1][j], for j < n-1.
 */
public final class ContinualMetrics {
  private ContinualMetrics() {}

  /** AA = (1/n) sum_j R[n-1][j]. */
  public static double averageAccuracy(double[][] r) {
    int n = check(r);
    double s = 0;
    for (int j = 0; j < n; j++) {
      s += r[n - 1][j];
    }
    return s / n;
  }

  /** BWT = (1/(n-1)) sum_{i < n-1} (R[n-1][i] - R[i][i]); negative means forgetting. */
  public static double backwardTransfer(double[][] r) {
    int n = check(r);
    double s = 0;
    for (int i = 0; i < n - 1; i++) {
      s += r[n - 1][i] - r[i][i];
    }
    return s / (n - 1);
  }

  /** Forgetting of each task j < n-1: the best accuracy it ever had minus the final one. */
  public static double[] forgetting(double[][] r) {
    int n = check(r);
    double[] f = new double[n - 1];
    for (int j = 0; j < n - 1; j++) {
      double best = Double.NEGATIVE_INFINITY;
      for (int l = j; l < n - 1; l++) {
        best = Math.max(best, r[l][j]);
      }
      f[j] = best - r[n - 1][j];
    }
    return f;
  }

  public static double meanForgetting(double[][] r) {
    double[] f = forgetting(r);
    double s = 0;
    for (double v : f) {
      s += v;
    }
    return s / f.length;
  }

  private static int check(double[][] r) {
    int n = r.length;
    if (n < 2) {
      throw new IllegalArgumentException("accuracy matrix has " + n + " rows: needs n >= 2 tasks");
    }
    for (double[] row : r) {
      if (row.length != n) {
        throw new IllegalArgumentException("accuracy matrix must be n x n, n = " + n + ", got a row of " + row.length);
      }
    }
    return n;
  }
}
