package dev.loraj.bench.report;

import java.util.Base64;
import java.util.List;
import java.util.Map;

/**
 * {@code report.html}: one static, self-contained page (inline CSS, charts as base64 PNG data
 * URIs, no scripts, no external resources) with the header, table, the differences from the
 * reference row, memory, paragraph, charts and failed trials.
 */
final class HtmlReport {

  private static final String CSS = """
      body{font-family:system-ui,-apple-system,'DejaVu Sans',sans-serif;margin:2em;color:#222;max-width:1600px}
      h1{font-size:1.6em}h2{font-size:1.25em;margin-top:1.6em;border-bottom:1px solid #ccc}
      table{border-collapse:collapse;font-size:.85em}
      div.scroll{overflow-x:auto}
      th,td{border:1px solid #bbb;padding:.25em .45em}th{background:#eef2f7}
      td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
      tr.baseline td{background:#fafafa;font-style:italic}
      table.meta th{text-align:left;background:#f6f6f6}
      figure{margin:1em 0}figure img{max-width:100%;border:1px solid #ddd}
      figcaption{font-size:.9em;color:#555}
      p.note{font-size:.85em;color:#555}
      """;

  private HtmlReport() {}

  static String render(Summary s, List<Plot> plots) {
    StringBuilder h = new StringBuilder();
    h.append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>Sweep report: ")
        .append(esc(s.sweepName())).append("</title>\n<style>\n").append(CSS).append("</style>\n</head>\n<body>\n");
    h.append("<h1>Sweep report: ").append(esc(s.sweepName())).append("</h1>\n");
    h.append("<table class=\"meta\">\n");
    for (Map.Entry<String, String> e : TableView.header(s).entrySet()) {
      h.append("<tr><th>").append(esc(e.getKey())).append("</th><td>").append(esc(e.getValue()))
          .append("</td></tr>\n");
    }
    h.append("</table>\n");

    h.append("<h2>Results</h2>\n<div class=\"scroll\"><table class=\"results\">\n<thead><tr>");
    for (String c : TableView.columns(s)) {
      h.append("<th>").append(esc(c)).append("</th>");
    }
    h.append("</tr></thead>\n<tbody>\n");
    List<List<String>> rows = TableView.rows(s);
    for (int i = 0; i < rows.size(); i++) {
      h.append(s.rows().get(i).baseline() ? "<tr class=\"baseline\">" : "<tr>");
      List<String> r = rows.get(i);
      for (int j = 0; j < r.size(); j++) {
        h.append(j < TableView.textColumns() ? "<td>" : "<td class=\"num\">")
            .append(esc(r.get(j))).append("</td>");
      }
      h.append("</tr>\n");
    }
    h.append("</tbody>\n</table></div>\n");
    h.append("<p class=\"note\">Metrics: mean ± sample standard deviation (n − 1) over the ok seeds (n). "
        + "Memory, tokens/s and train s: mean over seeds; step ms: median over seeds of each trial's "
        + "median step time. MiB = 2<sup>20</sup> bytes. Full precision in summary.csv and summary.json.</p>\n");

    h.append("<h2>Differences from the reference</h2>\n<p class=\"note\">")
        .append(esc(TableView.differenceNote(s))).append("</p>\n");
    if (s.rankingSupported()) {
      table(h, "differences", TableView.differenceColumns(s), TableView.differenceRows(s));
    }

    List<List<String>> mem = TableView.memoryRows(s);
    if (!mem.isEmpty()) {
      h.append("<h2>Memory</h2>\n");
      table(h, "results", TableView.memoryColumns(), mem);
      h.append("<p class=\"note\">").append(esc(TableView.memoryNote())).append("</p>\n");
    }

    h.append("<h2>What the table shows</h2>\n<p>")
        .append(esc(String.join(" ", Narrative.sentences(s)))).append("</p>\n");

    h.append("<h2>Plots</h2>\n");
    if (plots.isEmpty()) {
      h.append("<p>No plots (no ok trials with data to plot).</p>\n");
    }
    for (Plot p : plots) {
      h.append("<figure id=\"").append(esc(p.file())).append("\"><img alt=\"").append(esc(p.caption()))
          .append("\" src=\"data:image/png;base64,")
          .append(Base64.getEncoder().encodeToString(p.png()))
          .append("\"><figcaption>").append(esc(p.caption())).append(" (").append(esc(p.file()))
          .append(")</figcaption></figure>\n");
    }

    h.append("<h2>Failed trials</h2>\n");
    if (s.failed().isEmpty()) {
      h.append("<p>None.</p>\n");
    } else {
      h.append("<table class=\"failed\">\n<thead><tr><th>trial</th><th>group</th><th>seed</th>"
          + "<th>error</th></tr></thead>\n<tbody>\n");
      for (FailedTrial f : s.failed()) {
        h.append("<tr><td>").append(esc(f.id())).append("</td><td>").append(esc(f.group()))
            .append("</td><td class=\"num\">").append(f.seed()).append("</td><td>")
            .append(esc(TableView.shortError(f.error()))).append("</td></tr>\n");
      }
      h.append("</tbody>\n</table>\n");
    }
    h.append("</body>\n</html>\n");
    return h.toString();
  }

  /** A scrollable table: header row, then text columns left and numbers right. */
  private static void table(StringBuilder h, String cssClass, List<String> cols, List<List<String>> rows) {
    h.append("<div class=\"scroll\"><table class=\"").append(cssClass).append("\">\n<thead><tr>");
    for (String c : cols) {
      h.append("<th>").append(esc(c)).append("</th>");
    }
    h.append("</tr></thead>\n<tbody>\n");
    for (List<String> r : rows) {
      h.append("<tr>");
      for (int j = 0; j < r.size(); j++) {
        h.append(j < TableView.textColumns() ? "<td>" : "<td class=\"num\">").append(esc(r.get(j))).append("</td>");
      }
      h.append("</tr>\n");
    }
    h.append("</tbody>\n</table></div>\n");
  }

  static String esc(String s) {
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\"", "&quot;");
  }
}
