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
    c.addAll(List.of("trainable params", "% of total", "peak off-heap MiB", "peak heap MiB",
        "analytic MiB", "step ms (median)", "tokens/s", "train s"));
    return c;
  }

  /** Number of leading text columns (left-aligned); the rest are numbers. */
  static int textColumns() {
    return 2;
  }

  static List<List<String>> rows(Summary s) {
    List<List<String>> out = new ArrayList<>();
    for (GroupSummary r : s.rows()) {
      List<String> c = new ArrayList<>();
      c.add(r.group());
      c.add(r.baseline() ? r.method() + " (baseline)" : r.method());
      c.add(Fmt.rank(r.rank()));
      c.add(r.nFailed() > 0 ? r.nOk() + " (+" + r.nFailed() + " failed)" : Integer.toString(r.nOk()));
      for (String m : s.metricNames()) {
        c.add(Fmt.meanStd(r.metric(m)));
      }
      c.add(Fmt.count(r.trainableParams()));
      c.add(Fmt.pct(r.trainablePct()));
      c.add(Fmt.mib(r.peakOffheapBytes()));
      c.add(Fmt.mib(r.peakHeapBytes()));
      c.add(Fmt.mib(r.analyticMemoryBytes()));
      c.add(Fmt.oneDecimal(r.stepMsMedian()));
      c.add(Fmt.rate(r.tokensPerS()));
      c.add(Fmt.oneDecimal(r.trainSeconds()));
      out.add(c);
    }
    return out;
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
