package dev.loraj.eval.reproduce;

import dev.loraj.core.lora.Lora;
import dev.loraj.core.model.ArchitectureCards;
import java.io.IOException;
import java.math.BigDecimal;
import java.util.List;
import java.util.Locale;

/** Helpers shared by the parameter-count reproductions: counting and reading the papers' rounding. */
final class Counts {
  private Counts() {}

  private static final Lora LORA = new Lora();

  /** LoRA's trainable parameters on a card, targets as aliases (query, value, ...). */
  static long lora(String card, List<String> targets, int rank) {
    try {
      return ArchitectureCards.trainableParameters(card, targets, rank, LORA);
    } catch (IOException e) {
      throw new IllegalStateException("card " + card + " did not load", e);
    }
  }

  /**
   * Whether {@code count} rounds to the printed value {@code printedMillions} (e.g. "0.35"):
   * within half a unit of its last printed digit.
   */
  static boolean roundsTo(long count, String printedMillions) {
    BigDecimal p = new BigDecimal(printedMillions);
    double halfUnit = 0.5 * Math.pow(10, -p.scale()) * 1e6;
    return Math.abs(count - p.doubleValue() * 1e6) <= halfUnit + 1e-6;
  }

  /** "half a unit of the last printed digit (+-0.005M)". */
  static String roundingTolerance(String printedMillions) {
    BigDecimal p = new BigDecimal(printedMillions);
    return "rounds to the printed digits (+-" + BigDecimal.valueOf(5, p.scale() + 1).toPlainString()
        + "M)";
  }

  static String exact(long n) {
    return String.format(Locale.ROOT, "%,d (%.2fM)", n, n / 1e6);
  }
}
