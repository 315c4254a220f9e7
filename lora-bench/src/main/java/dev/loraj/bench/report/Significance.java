package dev.loraj.bench.report;

import dev.loraj.bench.sweep.TrialResult;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * Which differences between rows the seeds support: picks the reference row and computes every
 * other row's {@link PairedDifference} from it.
 *
 * <p>The reference is the row named by the sweep's {@code report.reference} (a group label, or a
 * method name: then that method's best row); without one, the best {@code lora} row; without a
 * {@code lora} row, the best row. Only seeds both rows finished are paired, so rows with
 * different seed lists compare on their common seeds. The 95% intervals are per comparison, not
 * corrected for the number of rows compared.
 */
final class Significance {

  /** The reference row, why it was chosen, and every other row's difference from it. */
  record Result(String reference, String choice, List<PairedDifference> differences) {}

  /** Two-sided 95% quantiles of Student's t for 1 to 30 degrees of freedom. */
  private static final double[] T975 = {12.7062, 4.3027, 3.1824, 2.7764, 2.5706, 2.4469, 2.3646,
      2.3060, 2.2622, 2.2281, 2.2010, 2.1788, 2.1604, 2.1448, 2.1314, 2.1199, 2.1098, 2.1009,
      2.0930, 2.0860, 2.0796, 2.0739, 2.0687, 2.0639, 2.0595, 2.0555, 2.0518, 2.0484, 2.0452,
      2.0423};

  private Significance() {}

  /**
   * @param rows the summary's rows, best first
   * @param reference the sweep's {@code report.reference}, or null for the default
   * @throws IllegalArgumentException when {@code reference} names no group and no method
   */
  static Result of(List<GroupSummary> rows, List<TrialResult> trials, String primary,
      boolean higherIsBetter, String reference) {
    List<GroupSummary> ranked = rows.stream().filter(r -> {
      MeanStd m = r.metric(primary);
      return m != null && m.n() > 0 && !Double.isNaN(m.mean());
    }).toList();
    if (ranked.isEmpty()) {
      return new Result(null, "no row recorded " + primary, List.of());
    }
    GroupSummary ref;
    String choice;
    if (reference != null) {
      ref = ranked.stream().filter(r -> r.group().equals(reference)).findFirst()
          .or(() -> ranked.stream().filter(r -> r.method().equals(reference)).findFirst())
          .orElseThrow(() -> new IllegalArgumentException("report.reference = '" + reference
              + "': no row of this sweep has that group or method; groups: "
              + ranked.stream().map(GroupSummary::group).toList() + ", methods: "
              + ranked.stream().map(GroupSummary::method).distinct().toList()));
      choice = ref.group().equals(reference) ? "report.reference" : "report.reference: the best " + reference + " row";
    } else {
      GroupSummary lora = ranked.stream()
          .filter(r -> r.method().equals(dev.loraj.bench.sweep.SweepConfig.DEFAULT_REFERENCE))
          .findFirst().orElse(null);
      ref = lora != null ? lora : ranked.get(0);
      choice = lora != null ? "the default: the best lora row" : "no lora row: the best row";
    }
    Map<String, SortedMap<Long, Double>> bySeed = perSeed(trials, primary);
    SortedMap<Long, Double> refValues = bySeed.getOrDefault(ref.group(), new TreeMap<>());
    List<PairedDifference> out = new ArrayList<>();
    for (GroupSummary r : ranked) {
      if (r != ref) {
        out.add(difference(r, bySeed.getOrDefault(r.group(), new TreeMap<>()), refValues, higherIsBetter));
      }
    }
    return new Result(ref.group(), choice, List.copyOf(out));
  }

  /** Primary metric by group and seed, over the ok trials that recorded it. */
  private static Map<String, SortedMap<Long, Double>> perSeed(List<TrialResult> trials, String primary) {
    Map<String, SortedMap<Long, Double>> out = new TreeMap<>();
    for (TrialResult t : trials) {
      Double v = t.metric(primary);
      if (t.ok() && v != null && !v.isNaN()) {
        out.computeIfAbsent(t.group(), g -> new TreeMap<>()).put(t.seed(), v);
      }
    }
    return out;
  }

  static PairedDifference difference(GroupSummary row, SortedMap<Long, Double> values,
      SortedMap<Long, Double> reference, boolean higherIsBetter) {
    List<Long> seeds = new ArrayList<>();
    List<Double> d = new ArrayList<>();
    for (Map.Entry<Long, Double> e : values.entrySet()) {
      Double ref = reference.get(e.getKey());
      if (ref != null) {
        seeds.add(e.getKey());
        d.add(e.getValue() - ref);
      }
    }
    if (d.isEmpty()) {
      return new PairedDifference(row.group(), row.method(), seeds, Double.NaN, null, null, null,
          PairedDifference.NO_COMMON_SEED);
    }
    MeanStd m = MeanStd.of(d);
    if (d.size() < 2) {
      return new PairedDifference(row.group(), row.method(), seeds, m.mean(), null, null, null,
          PairedDifference.SINGLE_SEED);
    }
    double half = tQuantile975(d.size() - 1) * m.std() / Math.sqrt(d.size());
    double low = m.mean() - half;
    double high = m.mean() + half;
    String verdict;
    if (low > 0 || high < 0) {
      verdict = (m.mean() > 0) == higherIsBetter ? PairedDifference.BETTER : PairedDifference.WORSE;
    } else {
      verdict = PairedDifference.NOT_SIGNIFICANT;
    }
    return new PairedDifference(row.group(), row.method(), seeds, m.mean(), m.std(), low, high, verdict);
  }

  /**
   * The 0.975 quantile of Student's t with {@code df} degrees of freedom: tabulated to 30, then
   * the Cornish-Fisher expansion in 1/df around the normal quantile (error below 1e-4 there).
   */
  static double tQuantile975(int df) {
    if (df < 1) {
      throw new IllegalArgumentException("degrees of freedom = " + df + ": must be >= 1");
    }
    if (df <= T975.length) {
      return T975[df - 1];
    }
    double z = 1.959963984540054;
    double z3 = z * z * z;
    double z5 = z3 * z * z;
    double z7 = z5 * z * z;
    double v = df;
    return z + (z3 + z) / (4 * v) + (5 * z5 + 16 * z3 + 3 * z) / (96 * v * v)
        + (3 * z7 + 19 * z5 + 17 * z3 - 15 * z) / (384 * v * v * v);
  }

  /** The method, in one plain paragraph, for the reports. */
  static String method(String primary) {
    return "Differences from the reference row, paired by seed: for each seed both rows finished, "
        + "the row's " + primary + " minus the reference's; mean over those seeds, and with two or more "
        + "a 95% confidence interval mean ± t(0.975, n-1) · s/√n (s: sample standard deviation of the "
        + "per-seed differences). An interval that excludes zero is marked better or worse; intervals are "
        + "not corrected for the number of rows compared. Rows with one common seed have no interval.";
  }
}
