package dev.loraj.bench.report;

import dev.loraj.bench.sweep.TrialResult;
import java.util.ArrayList;
import java.util.List;

/**
 * The "what the table shows" paragraph, generated from the numbers: whether the seeds support a
 * ranking at all, which rows differ from the reference row with a 95% interval that excludes
 * zero ({@link Significance}), the best row and the best adapter, and the adapter's gap to the
 * head-only and full fine-tuning baselines (with parameter and memory ratios).
 */
final class Narrative {

  private Narrative() {}

  /** Plain sentences (no Markdown or HTML markup). */
  static List<String> sentences(Summary s) {
    List<String> out = new ArrayList<>();
    String pm = s.primaryMetric();
    List<GroupSummary> ranked = s.rows().stream().filter(r -> has(r, pm)).toList();
    if (ranked.isEmpty()) {
      out.add("No ok trial recorded the primary metric " + pm + ", so nothing can be ranked.");
      addFailures(s, out);
      return out;
    }
    out.add("Rows are sorted by " + pm + " (" + (s.higherIsBetter() ? "higher" : "lower")
        + " is better), mean ± sample std over seeds.");
    out.addAll(significance(s));
    GroupSummary best = ranked.get(0);
    // a row the seeds cannot compare is the highest, not the best
    boolean compared = best.group().equals(s.reference())
        || s.differences().stream().anyMatch(d -> d.group().equals(best.group()) && d.n() >= 2);
    String lead = !s.rankingSupported() ? "Highest (not a ranking): "
        : compared ? "Best: " : "Highest (single seed, not a ranking): ";
    out.add(lead + label(best) + " with " + pm + " " + Fmt.meanStd(best.metric(pm)) + " (n=" + best.metric(pm).n() + ").");
    GroupSummary adapter = ranked.stream().filter(r -> !r.baseline()).findFirst().orElse(null);
    GroupSummary full = bestOf(ranked, TrialResult.FULL_FT);
    GroupSummary head = bestOf(ranked, TrialResult.HEAD_ONLY);
    if (adapter == null) {
      out.add("No adapter method finished; only baselines are shown.");
    } else {
      if (adapter != best) {
        out.add("Best adapter: " + label(adapter) + " with " + Fmt.meanStd(adapter.metric(pm)) + ".");
      }
      out.add(label(adapter) + " trains " + Fmt.count(adapter.trainableParams()) + " parameters ("
          + Fmt.pct(adapter.trainablePct()) + " of " + Fmt.count(adapter.totalParams()) + ").");
      if (full != null) {
        out.add("Against full fine-tuning (" + Fmt.meanStd(full.metric(pm)) + "): "
            + gap(adapter, full, s) + "; " + ratio(full.trainableParams(), adapter.trainableParams())
            + " fewer trainable parameters, " + memoryVs(adapter, full) + ".");
      }
      if (head != null) {
        out.add("Against head-only training (" + Fmt.meanStd(head.metric(pm)) + "): "
            + gap(adapter, head, s) + ".");
      }
    }
    if (full == null && head == null) {
      out.add("The sweep has no head_only or full_ft baseline to compare with.");
    }
    memoryRanking(s, out);
    addFailures(s, out);
    return out;
  }

  private static String memoryVs(GroupSummary a, GroupSummary b) {
    if (!a.memory().isEmpty() && !b.memory().isEmpty()) {
      return "memory ledger " + Fmt.mib(a.memory().get("total")) + " vs " + Fmt.mib(b.memory().get("total")) + " MiB";
    }
    return "peak off-heap memory " + Fmt.mib(a.peakOffheapBytes()) + " vs " + Fmt.mib(b.peakOffheapBytes()) + " MiB";
  }

  /** The methods ordered by ledger total and by peak RSS delta, and what separates them. */
  private static void memoryRanking(Summary s, List<String> out) {
    List<GroupSummary> byLedger = TableView.memoryOrder(s);
    if (byLedger.size() < 2) {
      return;
    }
    StringBuilder b = new StringBuilder("By memory ledger total (what each run holds after its last step,"
        + " counted from its arrays), smallest first: ");
    for (int i = 0; i < byLedger.size(); i++) {
      GroupSummary r = byLedger.get(i);
      b.append(i == 0 ? "" : ", then ").append(r.group()).append(' ').append(Fmt.mib(r.memory().get("total")));
    }
    b.append(" MiB.");
    out.add(b.toString());
    GroupSummary small = byLedger.get(0);
    GroupSummary big = byLedger.get(byLedger.size() - 1);
    out.add("The largest category separating " + big.group() + " from " + small.group() + " is "
        + largestGap(big, small) + ".");
    List<GroupSummary> byDelta = byLedger.stream()
        .filter(r -> r.peakRssDeltaBytes() != null && r.peakRssDeltaBytes().n() > 0)
        .sorted(java.util.Comparator.comparingDouble((GroupSummary r) -> r.peakRssDeltaBytes().mean())).toList();
    if (byDelta.size() >= 2) {
      StringBuilder d = new StringBuilder("By peak resident set added during training (peak RSS Δ): ");
      for (int i = 0; i < byDelta.size(); i++) {
        GroupSummary r = byDelta.get(i);
        d.append(i == 0 ? "" : ", then ").append(r.group()).append(' ').append(Fmt.mib(r.peakRssDeltaBytes()));
      }
      out.add(d.append(" MiB.").toString());
    }
  }

  private static String largestGap(GroupSummary big, GroupSummary small) {
    String best = null;
    double gap = Double.NEGATIVE_INFINITY;
    for (String k : GroupSummary.MEMORY_CATEGORIES) {
      double d = big.memoryMean(k) - small.memoryMean(k);
      if (d > gap) {
        gap = d;
        best = k;
      }
    }
    return best + " (" + Fmt.f("%+.1f", Fmt.toMib(gap)) + " MiB)";
  }

  private static void addFailures(Summary s, List<String> out) {
    if (s.trialsFailed() > 0) {
      out.add(s.trialsFailed() + " of " + s.trialsTotal() + " trials failed and "
          + (s.trialsFailed() == 1 ? "is" : "are") + " excluded from the means (see Failed trials).");
    }
  }

  /**
   * Whether the seeds support a ranking; if they do, the rows better and worse than the
   * reference with 95% intervals that exclude zero, the rows whose intervals contain it, and the
   * rows without an interval.
   */
  static List<String> significance(Summary s) {
    List<String> out = new ArrayList<>();
    if (s.reference() == null) {
      return out;
    }
    if (!s.rankingSupported()) {
      out.add("No row shares two or more seeds with the reference row " + s.reference()
          + ", so the table supports no ranking: with one seed, a difference between rows may be"
          + " seed noise. List two or more seeds (seeds:, or an entry's own seeds:) for paired"
          + " 95% confidence intervals.");
      return out;
    }
    StringBuilder b = new StringBuilder("Against the reference row " + s.reference() + " (" + s.referenceChoice()
        + "), paired by seed with 95% t-intervals: ");
    List<String> parts = new ArrayList<>();
    for (String verdict : List.of(PairedDifference.BETTER, PairedDifference.WORSE, PairedDifference.NOT_SIGNIFICANT)) {
      List<String> rows = s.differences().stream().filter(d -> d.verdict().equals(verdict))
          .map(d -> d.group() + " " + Fmt.interval(d)).toList();
      if (!rows.isEmpty()) {
        parts.add((verdict.equals(PairedDifference.NOT_SIGNIFICANT) ? "no significant difference" : "significantly "
            + verdict) + ": " + String.join(", ", rows));
      }
    }
    b.append(String.join("; ", parts)).append('.');
    out.add(b.toString());
    List<String> single = s.differences().stream().filter(d -> d.n() < 2).map(PairedDifference::group).toList();
    if (!single.isEmpty()) {
      out.add("Single seed in common with the reference, so no interval and no ranking: "
          + String.join(", ", single) + ".");
    }
    return out;
  }

  private static String gap(GroupSummary a, GroupSummary b, Summary s) {
    MeanStd ma = a.metric(s.primaryMetric());
    MeanStd mb = b.metric(s.primaryMetric());
    double d = ma.mean() - mb.mean();
    boolean better = s.higherIsBetter() ? d > 0 : d < 0;
    String verdict = d == 0 ? "equal" : (better ? "higher" : "lower");
    return Fmt.signed(d) + " " + s.primaryMetric() + " (" + verdict + pairedVerdict(a, b, s) + ")";
  }

  /** What the paired interval says about rows a and b, when one of them is the reference. */
  private static String pairedVerdict(GroupSummary a, GroupSummary b, Summary s) {
    if (a.nOk() < 2 || b.nOk() < 2) {
      return "; single seed: not a ranking";
    }
    String other = a.group().equals(s.reference()) ? b.group() : b.group().equals(s.reference()) ? a.group() : null;
    if (other == null) {
      return "";
    }
    PairedDifference d = s.differences().stream().filter(x -> x.group().equals(other)).findFirst().orElse(null);
    if (d == null || d.n() < 2) {
      return "; single seed: not a ranking";
    }
    return d.excludesZero() ? "; significant, paired over " + d.n() + " seeds"
        : "; not significant, paired over " + d.n() + " seeds";
  }

  private static String ratio(long big, long small) {
    if (small <= 0) {
      return "n/a";
    }
    double r = (double) big / small;
    return r >= 10 ? Fmt.f("%,.0fx", r) : Fmt.f("%.1fx", r);
  }

  private static GroupSummary bestOf(List<GroupSummary> ranked, String variant) {
    return ranked.stream().filter(r -> r.method().equals(variant)).findFirst().orElse(null);
  }

  private static boolean has(GroupSummary r, String pm) {
    MeanStd m = r.metric(pm);
    return m != null && m.n() > 0 && !Double.isNaN(m.mean());
  }

  private static String label(GroupSummary r) {
    return r.group().equals(r.method()) ? r.group() : r.group() + " (" + r.method() + ")";
  }
}
