package dev.loraj.bench.report;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The human-readable views shared by the Markdown and HTML reports: the header (sweep identity
 * and provenance) and the main table, as plain strings in a fixed order.
 */
final class TableView {

  /** Provenance keys given their own header line; any other key is listed after them. */
  private static final Set<String> SHOWN = Set.of("git_revision", "framework_version", "jdk", "os",
      "arch", "cpu_model", "cores", "nd4j_backend", "blas", "dataset", "dataset_sha256",
      "base_model", "model");

  private TableView() {}

  /** Header lines: label to value, in display order. */
  static Map<String, String> header(Summary s) {
    Map<String, String> h = new LinkedHashMap<>();
    h.put("Sweep", join(s.sweeps()));
    h.put("Task", join(s.tasks()));
    h.put("Dataset", join(s.datasets()) + " (sha256 " + join(s.datasetSha256()) + ")");
    h.put("Base model", s.baseModels().isEmpty() ? "(not recorded)" : join(s.baseModels()));
    h.put("Git revision", prov(s, "git_revision"));
    h.put("Framework", prov(s, "framework_version"));
    h.put("JDK", prov(s, "jdk"));
    h.put("OS / CPU", prov(s, "os") + " " + prov(s, "arch") + ", " + prov(s, "cpu_model")
        + ", " + prov(s, "cores") + " cores");
    h.put("ND4J backend / BLAS", prov(s, "nd4j_backend") + " / " + prov(s, "blas"));
    h.put("Date", s.period().isEmpty() ? "(not recorded)" : s.period().get(0) + " to " + s.period().get(1));
    h.put("Trials", s.trialsTotal() + " (" + s.trialsOk() + " ok, " + s.trialsFailed() + " failed)");
    h.put("Primary metric", s.primaryMetric() + " (" + (s.higherIsBetter() ? "higher" : "lower")
        + " is better)");
    s.provenance().forEach((k, v) -> {
      if (!SHOWN.contains(k)) {
        h.put(k, join(v));
      }
    });
    return h;
  }

  static List<String> columns(Summary s) {
    List<String> c = new ArrayList<>(List.of("group", "method", "rank", "n"));
    c.addAll(s.metricNames());
    c.addAll(List.of("trainable params", "% of total", "ledger MiB", "estimate MiB", "peak RSS MiB",
        "peak RSS Δ MiB", "step ms (median)", "tokens/s", "train s"));
    return c;
  }

  /** Number of leading text columns (left-aligned); the rest are numbers. */
  static int textColumns() {
    return 2;
  }

  static List<List<String>> rows(Summary s) {
    List<List<String>> out = new ArrayList<>();
    // single-seed rows are labelled when other rows have seeds to compare
    boolean multiSeed = s.rows().stream().anyMatch(r -> r.nOk() >= 2);
    for (GroupSummary r : s.rows()) {
      List<String> c = new ArrayList<>();
      c.add(r.group());
      c.add(r.baseline() ? r.method() + " (baseline)" : r.method());
      c.add(Fmt.rank(r.rank()));
      String n = r.nOk() == 1 && multiSeed ? "1 (single seed)" : Integer.toString(r.nOk());
      c.add(r.nFailed() > 0 ? n + " (+" + r.nFailed() + " failed)" : n);
      for (String m : s.metricNames()) {
        c.add(Fmt.meanStd(r.metric(m)));
      }
      c.add(Fmt.count(r.trainableParams()));
      c.add(Fmt.pct(r.trainablePct()));
      c.add(Fmt.mib(r.memory().get("total")));
      c.add(Fmt.mib(r.analyticMemoryBytes()));
      c.add(Fmt.mib(r.peakRssBytes()));
      c.add(Fmt.mib(r.peakRssDeltaBytes()));
      c.add(Fmt.oneDecimal(r.stepMsMedian()));
      c.add(Fmt.rate(r.tokensPerS()));
      c.add(Fmt.oneDecimal(r.trainSeconds()));
      out.add(c);
    }
    return out;
  }

  /** Columns of the paired-differences table. */
  static List<String> differenceColumns(Summary s) {
    return List.of("group", "method", "paired seeds", s.primaryMetric() + " − reference (mean)",
        "95% CI", "CI excludes 0");
  }

  /** One row per non-reference row of the summary, in its order. */
  static List<List<String>> differenceRows(Summary s) {
    List<List<String>> out = new ArrayList<>();
    for (PairedDifference d : s.differences()) {
      String ci = d.low() == null ? Fmt.DASH : "[" + Fmt.signed(d.low()) + ", " + Fmt.signed(d.high()) + "]";
      String mark = switch (d.verdict()) {
        case PairedDifference.BETTER -> "yes: better ✱";
        case PairedDifference.WORSE -> "yes: worse ✱";
        case PairedDifference.NOT_SIGNIFICANT -> "no";
        case PairedDifference.SINGLE_SEED -> "single seed: no interval";
        default -> "no common seed";
      };
      String seeds = String.join(", ", d.seeds().stream().map(String::valueOf).toList());
      out.add(List.of(d.group(), d.method(), d.n() == 0 ? Fmt.DASH : d.n() + " (" + seeds + ")",
          d.n() == 0 ? Fmt.DASH : Fmt.signed(d.mean()), ci, mark));
    }
    return out;
  }

  /** The paragraph above the differences table: the reference and the method, or why there is none. */
  static String differenceNote(Summary s) {
    if (s.reference() == null) {
      return "No row recorded " + s.primaryMetric() + ", so there is nothing to compare.";
    }
    if (!s.rankingSupported()) {
      return "No row shares two or more seeds with the reference row " + s.reference() + " (" + s.referenceChoice()
          + "): the table supports no ranking, and a difference between rows may be seed noise. List two or"
          + " more seeds (seeds:, or an entry's own seeds:) for paired 95% confidence intervals.";
    }
    return "Reference row: " + s.reference() + " (" + s.referenceChoice() + "; set report.reference in the sweep"
        + " file or pass --reference to lora report). " + Significance.method(s.primaryMetric())
        + " ✱ marks an interval that excludes zero.";
  }

  /** Groups that recorded a memory ledger, smallest ledger total first. */
  static List<GroupSummary> memoryOrder(Summary s) {
    return s.rows().stream().filter(r -> !r.memory().isEmpty())
        .sorted(java.util.Comparator.comparingDouble((GroupSummary r) -> r.memoryMean("total"))
            .thenComparing(GroupSummary::group))
        .toList();
  }

  /** Columns of the memory table: one per ledger category, the total, the estimate, peak RSS. */
  static List<String> memoryColumns() {
    List<String> c = new ArrayList<>(List.of("group", "method"));
    GroupSummary.MEMORY_CATEGORIES.forEach(k -> c.add(k + " MiB"));
    c.addAll(List.of("ledger total MiB", "estimate MiB", "peak RSS MiB", "peak RSS Δ MiB"));
    return c;
  }

  /** The memory table's rows in {@link #memoryOrder} (empty when no trial recorded a ledger). */
  static List<List<String>> memoryRows(Summary s) {
    List<List<String>> out = new ArrayList<>();
    for (GroupSummary r : memoryOrder(s)) {
      List<String> c = new ArrayList<>();
      c.add(r.group());
      c.add(r.baseline() ? r.method() + " (baseline)" : r.method());
      GroupSummary.MEMORY_CATEGORIES.forEach(k -> c.add(Fmt.mib(r.memory().get(k))));
      c.add(Fmt.mib(r.memory().get("total")));
      c.add(Fmt.mib(r.analyticMemoryBytes()));
      c.add(Fmt.mib(r.peakRssBytes()));
      c.add(Fmt.mib(r.peakRssDeltaBytes()));
      out.add(c);
    }
    return out;
  }

  /** What the memory table's columns are, in one paragraph (plain text). */
  static String memoryNote() {
    return "Memory ledger: what the model, the trainer and the task hold after the last training step,"
        + " counted from their arrays (each allocation once), mean over seeds: frozen = dense frozen"
        + " weights and adapter buffers; quantized = packed codes, block scales and double-quantization"
        + " state; trainable = parameters the optimizer updates; gradients = one per trainable parameter;"
        + " optimizer = Adam's moments; activations = the step's working set (the replay plan's"
        + " buffers, dequantization buffers); other = data, the pretrained checkpoint, graph constants."
        + " Estimate: the analytic MemoryEstimator for the same model, method and config. Peak RSS:"
        + " the process's peak resident set over the trial (model load, set-up, training); peak RSS Δ:"
        + " the peak over training above the resident set right after set-up.";
  }

  /** One line of an error message for tables (the full text stays in summary.json). */
  static String shortError(String error) {
    String first = error.strip().lines().findFirst().orElse("");
    return first.length() > 300 ? first.substring(0, 297) + "..." : first;
  }

  private static String prov(Summary s, String key) {
    List<String> v = s.provenance().get(key);
    return v == null || v.isEmpty() ? "?" : join(v);
  }

  private static String join(List<String> values) {
    return values.isEmpty() ? "?" : String.join("; ", values);
  }
}
