package dev.loraj.core.config;

import java.util.Collection;
import java.util.Locale;
import java.util.Optional;

/**
 * The nearest valid name to a misspelt one, for "did you mean" hints: optimal string alignment
 * distance (Levenshtein plus adjacent transpositions, so {@code rnak} is one edit from {@code
 * rank}), case-insensitive, accepted when at most a third of the longer name (and at least one
 * edit) differs.
 */
public final class Suggestions {
  private Suggestions() {}

  /** The accepted name closest to {@code bad}, if any is close enough to be a likely typo. */
  public static Optional<String> nearest(String bad, Collection<String> accepted) {
    if (bad == null || bad.length() > 200) {
      return Optional.empty(); // no one misspells a 200-character key; keeps the cost bounded
    }
    String best = null;
    int bestDistance = Integer.MAX_VALUE;
    for (String candidate : accepted) {
      int d = distance(bad.toLowerCase(Locale.ROOT), candidate.toLowerCase(Locale.ROOT));
      int limit = Math.max(1, Math.max(bad.length(), candidate.length()) / 3);
      if (d <= limit && d < bestDistance) {
        best = candidate;
        bestDistance = d;
      }
    }
    return Optional.ofNullable(best);
  }

  /** {@code "; did you mean 'x'?"} or the empty string. */
  public static String hint(String bad, Collection<String> accepted) {
    return nearest(bad, accepted).map(s -> "; did you mean '" + s + "'?").orElse("");
  }

  /** Optimal string alignment distance between {@code a} and {@code b}. */
  static int distance(String a, String b) {
    int[][] d = new int[a.length() + 1][b.length() + 1];
    for (int i = 0; i <= a.length(); i++) {
      d[i][0] = i;
    }
    for (int j = 0; j <= b.length(); j++) {
      d[0][j] = j;
    }
    for (int i = 1; i <= a.length(); i++) {
      for (int j = 1; j <= b.length(); j++) {
        int cost = a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1;
        int v = Math.min(Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1), d[i - 1][j - 1] + cost);
        if (i > 1 && j > 1 && a.charAt(i - 1) == b.charAt(j - 2) && a.charAt(i - 2) == b.charAt(j - 1)) {
          v = Math.min(v, d[i - 2][j - 2] + 1);
        }
        d[i][j] = v;
      }
    }
    return d[a.length()][b.length()];
  }
}
