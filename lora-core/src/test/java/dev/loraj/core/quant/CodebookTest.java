package dev.loraj.core.quant;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class CodebookTest {

  /** The definition: smallest distance (exact in double), ties to the lowest code index. */
  private static int bruteForce(float[] table, boolean[] usable, float x) {
    int best = -1;
    double bestDist = Double.POSITIVE_INFINITY;
    for (int c = 0; c < table.length; c++) {
      if (!usable[c]) {
        continue;
      }
      double d = Math.abs((double) x - table[c]);
      if (d < bestDist) {
        best = c;
        bestDist = d;
      }
    }
    return best;
  }

  private static boolean[] usable(QuantFormat f) {
    boolean[] u = new boolean[f.levels().length];
    java.util.Arrays.fill(u, true);
    switch (f) {
      case FP4 -> u[8] = false;
      case INT4 -> u[8] = false;
      case INT8 -> u[128] = false;
      default -> { }
    }
    return u;
  }

  @Test
  void nearestMatchesTheDefinitionOnRandomValuesAndMidpoints() {
    Random rnd = new Random(17);
    for (QuantFormat f : java.util.Arrays.stream(QuantFormat.values()).filter(QuantFormat::blockwise).toList()) {
      float[] table = f.levels();
      boolean[] usable = usable(f);
      List<Float> xs = new ArrayList<>();
      for (int i = 0; i < 20000; i++) {
        xs.add((float) (rnd.nextDouble() * 2.4 - 1.2));
      }
      for (float a : table) {
        xs.add(a);
        xs.add(Math.nextUp(a));
        xs.add(Math.nextDown(a));
        for (float b : table) {
          float mid = (float) (((double) a + b) / 2);
          xs.add(mid);
          xs.add(Math.nextUp(mid));
          xs.add(Math.nextDown(mid));
        }
      }
      xs.add(-0.0f);
      xs.add(Float.MIN_VALUE);
      xs.add(-Float.MIN_VALUE);
      for (float x : xs) {
        assertThat(f.codebook().nearest(x)).as("%s nearest(%s)", f, x)
            .isEqualTo(bruteForce(table, usable, x));
      }
    }
  }
}
