package dev.loraj.bench.report;

import java.util.ArrayList;
import java.util.List;

/**
 * {@code summary.csv}: the rows of {@link Summary} in RFC 4180 form (LF line ends), full precision (Java's
 * shortest round-trip decimal), bytes as bytes, an empty cell where a value does not exist.
 */
final class CsvReport {

  private CsvReport() {}

  static String render(Summary s) {
    List<String> header = new ArrayList<>(List.of(
        "group", "method", "baseline", "rank", "n_ok", "n_failed", "seeds"));
    for (String m : s.metricNames()) {
      header.add(m + "_mean");
      header.add(m + "_std");
      header.add(m + "_n");
    }
    for (String q : measures()) {
      header.add(q + "_mean");
      header.add(q + "_std");
    }
    for (String k : memoryKeys()) {
      header.add("memory_" + k + "_bytes_mean");
    }
    header.add("peak_rss_delta_bytes_mean");
    header.addAll(List.of("trainable_params", "total_params", "trainable_pct", "step_ms_median"));
    header.addAll(List.of("reference", "diff_vs_reference_mean", "diff_vs_reference_ci_low",
        "diff_vs_reference_ci_high", "diff_vs_reference_n", "diff_vs_reference_verdict"));
    StringBuilder csv = new StringBuilder(line(header));
    for (GroupSummary r : s.rows()) {
      List<String> c = new ArrayList<>();
      c.add(r.group());
      c.add(r.method());
      c.add(Boolean.toString(r.baseline()));
      c.add(r.rank() == null ? "" : r.rank().toString());
      c.add(Integer.toString(r.nOk()));
      c.add(Integer.toString(r.nFailed()));
      c.add(String.join(";", r.seeds().stream().map(String::valueOf).toList()));
      for (String m : s.metricNames()) {
        MeanStd v = r.metric(m);
        c.add(v == null ? "" : num(v.mean()));
        c.add(v == null || v.std() == null ? "" : num(v.std()));
        c.add(v == null ? "0" : Integer.toString(v.n()));
      }
      for (MeanStd v : List.of(r.adapterFileBytes(), r.optimizerStateBytes(), r.peakOffheapBytes(),
          r.peakHeapBytes(), r.peakRssBytes(), r.analyticMemoryBytes(), r.tokensPerS(),
          r.trainSeconds())) {
        c.add(num(v.mean()));
        c.add(v.std() == null ? "" : num(v.std()));
      }
      for (String k : memoryKeys()) {
        MeanStd v = r.memory().get(k);
        c.add(v == null ? "" : num(v.mean()));
      }
      c.add(r.peakRssDeltaBytes() == null || r.peakRssDeltaBytes().n() == 0 ? "" : num(r.peakRssDeltaBytes().mean()));
      c.add(Long.toString(r.trainableParams()));
      c.add(Long.toString(r.totalParams()));
      c.add(num(r.trainablePct()));
      c.add(num(r.stepMsMedian()));
      c.add(s.reference() == null ? "" : s.reference());
      PairedDifference d = s.differences().stream().filter(x -> x.group().equals(r.group())).findFirst().orElse(null);
      boolean has = d != null && d.n() > 0;
      c.add(has ? num(d.mean()) : "");
      c.add(d != null && d.low() != null ? num(d.low()) : "");
      c.add(d != null && d.high() != null ? num(d.high()) : "");
      c.add(d == null ? "" : Integer.toString(d.n()));
      c.add(d == null ? (r.group().equals(s.reference()) ? "reference" : "") : d.verdict());
      csv.append(line(c));
    }
    return csv.toString();
  }

  /** The aggregated measurements, in the column order of the CSV. */
  private static List<String> measures() {
    return List.of("adapter_file_bytes", "optimizer_state_bytes", "peak_offheap_bytes",
        "peak_heap_bytes", "peak_rss_bytes", "analytic_memory_bytes", "tokens_per_s",
        "train_seconds");
  }

  /** The ledger categories and their total. */
  private static List<String> memoryKeys() {
    List<String> k = new ArrayList<>(GroupSummary.MEMORY_CATEGORIES);
    k.add("total");
    return k;
  }

  private static String num(double v) {
    return Double.toString(v);
  }

  private static String line(List<String> cells) {
    List<String> q = new ArrayList<>();
    for (String c : cells) {
      boolean quote = c.contains(",") || c.contains("\"") || c.contains("\n") || c.contains("\r");
      q.add(quote ? '"' + c.replace("\"", "\"\"") + '"' : c);
    }
    return String.join(",", q) + "\n";
  }
}
