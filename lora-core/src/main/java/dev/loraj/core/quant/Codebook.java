package dev.loraj.core.quant;

import java.util.Arrays;

/**
 * A table of normalized levels indexed by code, with the rounding rule every format here uses:
 * <b>nearest level, ties to the lower code index</b> (bitsandbytes; docs/variants.md, QLoRA).
 *
 * <p>Some codes may be unusable (INT4's nibble 8 = -8, INT8's byte -128): they have a value for
 * dequantization but the quantizer never emits them. Codes with equal values (FP4's +0 and -0)
 * collapse to the lowest of them.
 *
 * <p>Ties are decided exactly: {@code x} is compared with the midpoints of neighbouring levels,
 * formed in double (the sum of two floats halved, exact), so a float lying exactly on the real
 * midpoint of two levels is a tie. For 16 or fewer levels the code is found with a branch-free
 * count of the midpoints below {@code x}; for more, by binary search.
 */
final class Codebook {
  private final float[] values;     // value of each code, indexed by code
  private final float[] sorted;     // distinct usable values, ascending
  private final int[] sortedCode;   // lowest code index of each distinct value
  private final int zeroCode;
  private final double[] midpoints;  // midpoints[j] between sorted[j] and sorted[j + 1]
  private final int[] tieUp;         // 1 if a tie at midpoints[j] goes to sorted[j + 1]

  Codebook(float[] values, boolean[] usable) {
    if (values.length != usable.length) {
      throw new IllegalArgumentException(
          "values.length " + values.length + " != usable.length " + usable.length);
    }
    this.values = values.clone();
    int[] idx = java.util.stream.IntStream.range(0, values.length)
        .filter(i -> usable[i])
        .boxed()
        .sorted((a, b) -> {
          int c = Float.compare(values[a] + 0.0f, values[b] + 0.0f); // +0.0f folds -0 into +0
          return c != 0 ? c : Integer.compare(a, b);
        })
        .mapToInt(Integer::intValue)
        .toArray();
    float[] s = new float[idx.length];
    int[] sc = new int[idx.length];
    int m = 0;
    for (int i : idx) {
      float v = values[i] + 0.0f;
      if (m > 0 && s[m - 1] == v) {
        continue; // equal value, higher index: the lower index already holds it
      }
      s[m] = v;
      sc[m] = i;
      m++;
    }
    this.sorted = Arrays.copyOf(s, m);
    this.sortedCode = Arrays.copyOf(sc, m);
    int z = -1;
    for (int j = 0; j < m; j++) {
      if (sorted[j] == 0.0f) {
        z = sortedCode[j];
      }
    }
    if (z < 0) {
      throw new IllegalArgumentException("codebook has no usable zero level: "
          + Arrays.toString(values));
    }
    this.zeroCode = z;
    this.midpoints = new double[m - 1];
    this.tieUp = new int[m - 1];
    for (int j = 0; j + 1 < m; j++) {
      midpoints[j] = ((double) sorted[j] + sorted[j + 1]) / 2.0;
      tieUp[j] = sortedCode[j + 1] < sortedCode[j] ? 1 : 0;
    }
  }

  /** Number of codes (16 or 256). */
  int size() {
    return values.length;
  }

  /** Value of a code (no copy of the table). */
  float value(int code) {
    return values[code];
  }

  /** A copy of the table, indexed by code. */
  float[] values() {
    return values.clone();
  }

  /** The code used for an all-zero block (absmax 0). */
  int zeroCode() {
    return zeroCode;
  }

  /** Nearest usable level to {@code x}, ties to the lower code index. {@code x} must be finite. */
  int nearest(float x) {
    double xd = x;
    if (midpoints.length <= 15) {
      int pos = 0;
      for (int j = 0; j < midpoints.length; j++) {
        double m = midpoints[j];
        pos += xd > m ? 1 : (xd == m ? tieUp[j] : 0);
      }
      return sortedCode[pos];
    }
    // first j with x < midpoints[j] (or a tie that stays low): x belongs to sorted[j]
    int lo = 0;
    int hi = midpoints.length;
    while (lo < hi) {
      int mid = (lo + hi) >>> 1;
      double m = midpoints[mid];
      if (xd > m || (xd == m && tieUp[mid] == 1)) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
    return sortedCode[lo];
  }
}
