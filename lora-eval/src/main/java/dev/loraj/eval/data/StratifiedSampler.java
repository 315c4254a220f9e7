package dev.loraj.eval.data;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Deterministic stratified subsampling: each label keeps a share of {@code n} proportional to its
 * frequency (largest-remainder rounding, ties to the lower label), members drawn by a seeded
 * partial Fisher-Yates shuffle. The chosen indices are returned in ascending order, so a subset
 * keeps the order of the full split.
 */
final class StratifiedSampler {

  private StratifiedSampler() {}

  /**
   * @param labels label of each example, values in [0, numLabels)
   * @param n how many indices to keep, in [0, labels.size()]
   * @param random the seeded source; consumed
   * @return ascending indices into {@code labels}
   */
  static int[] select(int[] labels, int numLabels, int n, SplittableRandom random) {
    if (n < 0 || n > labels.length) {
      throw new IllegalArgumentException(
          "subset size must be in [0, " + labels.length + "], got " + n);
    }
    List<List<Integer>> byLabel = new ArrayList<>();
    for (int k = 0; k < numLabels; k++) {
      byLabel.add(new ArrayList<>());
    }
    for (int i = 0; i < labels.length; i++) {
      byLabel.get(labels[i]).add(i);
    }
    int[] quota = quotas(byLabel.stream().mapToInt(List::size).toArray(), n);
    int[] chosen = new int[n];
    int at = 0;
    for (int k = 0; k < numLabels; k++) {
      List<Integer> members = byLabel.get(k);
      for (int j = 0; j < quota[k]; j++) {
        int pick = j + random.nextInt(members.size() - j);
        Integer tmp = members.get(j);
        members.set(j, members.get(pick));
        members.set(pick, tmp);
        chosen[at++] = members.get(j);
      }
    }
    Arrays.sort(chosen);
    return chosen;
  }

  /** Largest-remainder apportionment of n over the given class sizes. */
  static int[] quotas(int[] sizes, int n) {
    long total = Arrays.stream(sizes).asLongStream().sum();
    int[] quota = new int[sizes.length];
    if (total == 0) {
      return quota;
    }
    long[] remainder = new long[sizes.length];
    int assigned = 0;
    for (int k = 0; k < sizes.length; k++) {
      long scaled = (long) n * sizes[k];
      quota[k] = (int) (scaled / total);
      remainder[k] = scaled % total;
      assigned += quota[k];
    }
    Integer[] order = new Integer[sizes.length];
    for (int k = 0; k < sizes.length; k++) {
      order[k] = k;
    }
    Arrays.sort(order, Comparator.comparingLong((Integer k) -> -remainder[k]).thenComparing(k -> k));
    for (int i = 0; assigned < n; i++) {
      int k = order[i % sizes.length];
      if (quota[k] < sizes[k]) {
        quota[k]++;
        assigned++;
      }
    }
    return quota;
  }
}
