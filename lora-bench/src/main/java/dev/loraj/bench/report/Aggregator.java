package dev.loraj.bench.report;

import dev.loraj.bench.sweep.TrialResult;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.function.Function;
import java.util.function.ToDoubleFunction;

/**
 * Turns trial results into a {@link Summary}: groups trials by their {@code group} field,
 * averages the ok seeds (failed ones are listed, never averaged), and sorts the rows best first
 * by the primary metric (ties by group name). The result depends only on the set of trials, not
 * on the order they are given in.
 */
final class Aggregator {

  /** Provenance keys that vary per trial by design and are shown elsewhere (or not at all). */
  private static final Set<String> PER_TRIAL_KEYS = Set.of("seed", "start_time", "end_time");

  private Aggregator() {}

  static Summary summarize(List<TrialResult> unsorted) {
    return summarize(unsorted, null);
  }

  /**
   * As {@link #summarize(List)}, with the differences taken from the row {@code reference} names
   * (a group or a method; null: the default, see {@link Significance}).
   */
  static Summary summarize(List<TrialResult> unsorted, String reference) {
    if (unsorted.isEmpty()) {
      throw new IllegalArgumentException("no trials to report");
    }
    List<TrialResult> trials = sorted(unsorted);
    String primary = single(trials, TrialResult::primaryMetric, "primary_metric");
    boolean higherIsBetter = single(trials, TrialResult::higherIsBetter, "higher_is_better");

    Map<String, List<TrialResult>> byGroup = byGroup(trials);
    List<GroupSummary> rows = new ArrayList<>();
    for (List<TrialResult> members : byGroup.values()) {
      checkGroupConsistent(members);
      if (members.stream().anyMatch(TrialResult::ok)) {
        rows.add(row(members));
      }
    }
    Comparator<Double> metricOrder =
        higherIsBetter ? Comparator.reverseOrder() : Comparator.naturalOrder();
    rows.sort(Comparator.comparing(
            (GroupSummary r) -> primaryMean(r, primary),
            Comparator.nullsLast(metricOrder))
        .thenComparing(GroupSummary::group));

    List<FailedTrial> failed = new ArrayList<>();
    for (TrialResult t : trials) {
      if (!t.ok()) {
        failed.add(new FailedTrial(t.id(), t.group(), t.variant(), t.seed(),
            t.error() == null ? "(no error message recorded)" : t.error()));
      }
    }

    Set<String> otherMetrics = new TreeSet<>();
    trials.stream().filter(TrialResult::ok).forEach(t -> otherMetrics.addAll(t.metrics().keySet()));
    otherMetrics.remove(primary);
    List<String> metricNames = new ArrayList<>();
    metricNames.add(primary);
    metricNames.addAll(otherMetrics);

    int ok = (int) trials.stream().filter(TrialResult::ok).count();
    Significance.Result sig = Significance.of(rows, trials, primary, higherIsBetter, reference);
    return new Summary(
        distinct(trials, TrialResult::sweep),
        distinct(trials, TrialResult::task),
        distinct(trials, TrialResult::dataset),
        distinct(trials, TrialResult::datasetSha256),
        distinct(trials, Aggregator::baseModel),
        primary, higherIsBetter, List.copyOf(metricNames),
        trials.size(), ok, trials.size() - ok,
        period(trials), provenance(trials), List.copyOf(rows), sig.reference(), sig.choice(),
        sig.differences(), List.copyOf(failed));
  }

  /** Trials in a fixed order: by group, then seed, then id. */
  static List<TrialResult> sorted(List<TrialResult> trials) {
    List<TrialResult> s = new ArrayList<>(trials);
    s.sort(Comparator.comparing(TrialResult::group)
        .thenComparingLong(TrialResult::seed)
        .thenComparing(TrialResult::id));
    return s;
  }

  /** Trials by group name (sorted map; each list in seed order). */
  static Map<String, List<TrialResult>> byGroup(List<TrialResult> trials) {
    Map<String, List<TrialResult>> byGroup = new TreeMap<>();
    for (TrialResult t : sorted(trials)) {
      byGroup.computeIfAbsent(t.group(), g -> new ArrayList<>()).add(t);
    }
    return byGroup;
  }

  /**
   * The base model's id: provenance {@code base_model} or {@code model}, else the same keys of
   * {@code train}; null when none is recorded.
   */
  static String baseModel(TrialResult t) {
    for (String key : List.of("base_model", "model")) {
      String v = t.provenanceText(key);
      if (v != null) {
        return v;
      }
      if (t.train() != null && t.train().hasNonNull(key)) {
        return t.train().get(key).asText();
      }
    }
    return null;
  }

  private static GroupSummary row(List<TrialResult> members) {
    List<TrialResult> ok = members.stream().filter(TrialResult::ok).toList();
    TrialResult first = ok.get(0);
    SortedMap<String, MeanStd> metrics = new TreeMap<>();
    Set<String> names = new TreeSet<>();
    ok.forEach(t -> names.addAll(t.metrics().keySet()));
    for (String name : names) {
      metrics.put(name, MeanStd.of(
          ok.stream().map(t -> t.metric(name)).filter(Objects::nonNull).toList()));
    }
    long trainable = medianLong(ok.stream().map(TrialResult::trainableParams).toList());
    long total = medianLong(ok.stream().map(TrialResult::totalParams).toList());
    return new GroupSummary(
        first.group(), first.variant(), first.baseline(), first.rank(),
        ok.size(), members.size() - ok.size(),
        ok.stream().map(TrialResult::seed).toList(),
        metrics, trainable, total, total > 0 ? 100.0 * trainable / total : Double.NaN,
        stat(ok, t -> t.adapterFileBytes()),
        stat(ok, t -> t.optimizerStateBytes()),
        stat(ok, t -> t.peakOffheapBytes()),
        stat(ok, t -> t.peakHeapBytes()),
        stat(ok, t -> t.peakRssBytes()),
        stat(ok, t -> t.analyticMemoryBytes()),
        memory(ok),
        stat(ok, t -> t.peakRssDeltaBytes()),
        MeanStd.median(ok.stream().map(TrialResult::stepMsMedian).toList()),
        stat(ok, TrialResult::tokensPerS),
        stat(ok, TrialResult::trainSeconds));
  }

  /** Each ledger category (and the total) over the seeds that recorded a ledger. */
  private static SortedMap<String, MeanStd> memory(List<TrialResult> ok) {
    List<TrialResult> with = ok.stream().filter(t -> !t.memory().isEmpty()).toList();
    SortedMap<String, MeanStd> m = new TreeMap<>();
    if (with.isEmpty()) {
      return m;
    }
    List<String> keys = new ArrayList<>(GroupSummary.MEMORY_CATEGORIES);
    keys.add("total");
    for (String k : keys) {
      m.put(k, stat(with, t -> t.memoryBytes(k)));
    }
    return m;
  }

  private static MeanStd stat(List<TrialResult> ok, ToDoubleFunction<TrialResult> f) {
    return MeanStd.of(ok.stream().map(t -> f.applyAsDouble(t)).toList());
  }

  private static long medianLong(List<Long> values) {
    List<Long> s = new ArrayList<>(values);
    s.sort(null);
    return s.get((s.size() - 1) / 2);
  }

  private static Double primaryMean(GroupSummary r, String primary) {
    MeanStd m = r.metric(primary);
    return m == null || Double.isNaN(m.mean()) ? null : m.mean();
  }

  private static void checkGroupConsistent(List<TrialResult> members) {
    TrialResult first = members.get(0);
    for (TrialResult t : members) {
      if (!t.variant().equals(first.variant()) || !Objects.equals(t.rank(), first.rank())
          || t.baseline() != first.baseline()) {
        throw new IllegalArgumentException("group '" + first.group() + "' mixes configurations: trial '"
            + first.id() + "' is variant=" + first.variant() + " rank=" + first.rank()
            + " baseline=" + first.baseline() + ", trial '" + t.id() + "' is variant=" + t.variant()
            + " rank=" + t.rank() + " baseline=" + t.baseline()
            + "; give each configuration its own group label");
      }
    }
  }

  private static <T> T single(List<TrialResult> trials, Function<TrialResult, T> f, String field) {
    Map<T, String> seen = new java.util.LinkedHashMap<>();
    for (TrialResult t : trials) {
      seen.putIfAbsent(f.apply(t), t.id());
    }
    if (seen.size() != 1) {
      throw new IllegalArgumentException("trials disagree on '" + field + "': " + seen
          + " (value -> first trial id); one report needs a single value");
    }
    return seen.keySet().iterator().next();
  }

  private static List<String> distinct(List<TrialResult> trials, Function<TrialResult, String> f) {
    Set<String> s = new TreeSet<>();
    for (TrialResult t : trials) {
      String v = f.apply(t);
      if (v != null) {
        s.add(v);
      }
    }
    return List.copyOf(s);
  }

  private static List<String> period(List<TrialResult> trials) {
    TreeSet<String> starts = new TreeSet<>(distinct(trials, t -> t.provenanceText("start_time")));
    TreeSet<String> ends = new TreeSet<>(distinct(trials, t -> t.provenanceText("end_time")));
    if (starts.isEmpty() && ends.isEmpty()) {
      return List.of();
    }
    // ISO-8601 instants in one zone sort lexicographically in time order
    return List.of(starts.isEmpty() ? "?" : starts.first(), ends.isEmpty() ? "?" : ends.last());
  }

  private static SortedMap<String, List<String>> provenance(List<TrialResult> trials) {
    SortedMap<String, Set<String>> values = new TreeMap<>();
    for (TrialResult t : trials) {
      if (t.provenance() == null) {
        continue;
      }
      for (Iterator<String> it = t.provenance().fieldNames(); it.hasNext(); ) {
        String key = it.next();
        String v = t.provenanceText(key);
        if (v != null && !PER_TRIAL_KEYS.contains(key)) {
          values.computeIfAbsent(key, k -> new TreeSet<>()).add(v);
        }
      }
    }
    SortedMap<String, List<String>> out = new TreeMap<>();
    values.forEach((k, v) -> out.put(k, List.copyOf(v)));
    return out;
  }
}
