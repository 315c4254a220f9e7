package dev.loraj.core.quant;

import java.util.Arrays;

/**
 * bitsandbytes' signed "dynamic" 8-bit map ({@code create_dynamic_map(signed=True,
 * max_exponent_bits=7, total_bits=8)} in {@code functional.py}; Dettmers, "8-Bit Approximations
 * for Parallelism in Deep Learning", arXiv 1511.04561), used for the second level of double
 * quantization (QLoRA section 3).
 *
 * <p>Definition (derived from that function): for each decade {@code i = 0..6}, take
 * {@code 2^i + 1} evenly spaced boundaries on [0.1, 1]; the {@code 2^i} midpoints of consecutive
 * boundaries, times {@code 10^(i-6)}, are levels, and so are their negatives; add 0 and 1.0.
 * That is 2 * 127 + 2 = 256 values; sorted ascending, a value's position is its code. The map is
 * asymmetric: its largest level is 1.0, its smallest -0.99296875.
 *
 * <p>Here each level is computed in double and rounded once to float. bitsandbytes evaluates
 * the expression with torch float32 tensors, so its table depends on torch's float32
 * {@code linspace}: evaluated with torch 2.13 (CPU), 72 of the 256 levels differ from these by
 * one ulp and none by more ({@code DynamicMapTest} checks this against a golden file made by
 * {@code src/test/resources/dev/loraj/core/quant/dynamic_map.py}).
 */
final class DynamicMap {
  private static final float[] VALUES = build();
  static final Codebook CODEBOOK = new Codebook(VALUES, usable());

  private DynamicMap() {
  }

  /** The 256 levels in code order (ascending). */
  static float[] values() {
    return VALUES.clone();
  }

  private static float[] build() {
    double[] data = new double[256];
    int n = 0;
    int maxExponentBits = 7;
    for (int i = 0; i < maxExponentBits; i++) {
      int fractionItems = (1 << i) + 1;
      double scale = Math.pow(10, -(maxExponentBits - 1) + i);
      for (int j = 0; j + 1 < fractionItems; j++) {
        double b0 = 0.1 + 0.9 * j / (fractionItems - 1);
        double b1 = 0.1 + 0.9 * (j + 1) / (fractionItems - 1);
        double mean = (b0 + b1) / 2.0;
        data[n++] = scale * mean;
        data[n++] = -scale * mean;
      }
    }
    data[n++] = 0.0;
    data[n++] = 1.0;
    if (n != 256) {
      throw new AssertionError("dynamic map has " + n + " levels, expected 256");
    }
    Arrays.sort(data);
    float[] f = new float[256];
    for (int k = 0; k < 256; k++) {
      f[k] = (float) data[k];
    }
    return f;
  }

  private static boolean[] usable() {
    boolean[] u = new boolean[256];
    Arrays.fill(u, true);
    return u;
  }
}
