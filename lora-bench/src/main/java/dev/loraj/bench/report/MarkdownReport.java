package dev.loraj.bench.report;

import java.util.List;
import java.util.Map;

/**
 * {@code report.md}: header, table, the differences from the reference row (or why the seeds
 * support no ranking), memory, the generated paragraph, plot links, failed trials.
 */
final class MarkdownReport {

  private MarkdownReport() {}

  static String render(Summary s, List<Plot> plots) {
    StringBuilder md = new StringBuilder();
    md.append("# Sweep report: ").append(esc(s.sweepName())).append("\n\n");
    for (Map.Entry<String, String> e : TableView.header(s).entrySet()) {
      md.append("- **").append(esc(e.getKey())).append("**: ").append(esc(e.getValue())).append('\n');
    }
    md.append("\n## Results\n\n").append(table(TableView.columns(s), TableView.rows(s)));
    md.append("\nMetrics: mean ± sample standard deviation (n - 1) over the ok seeds (n). ")
        .append("Memory, tokens/s and train s: mean over seeds; step ms: median over seeds of each ")
        .append("trial's median step time. MiB = 2^20 bytes. Full precision in summary.csv and ")
        .append("summary.json.\n");
    md.append("\n## Differences from the reference\n\n").append(esc(TableView.differenceNote(s))).append('\n');
    if (s.rankingSupported()) {
      md.append('\n').append(table(TableView.differenceColumns(s), TableView.differenceRows(s)));
    }
    List<List<String>> mem = TableView.memoryRows(s);
    if (!mem.isEmpty()) {
      md.append("\n## Memory\n\n").append(table(TableView.memoryColumns(), mem));
      md.append('\n').append(esc(TableView.memoryNote())).append('\n');
    }
    md.append("\n## What the table shows\n\n")
        .append(esc(String.join(" ", Narrative.sentences(s)))).append('\n');
    md.append("\n## Plots\n\n");
    if (plots.isEmpty()) {
      md.append("No plots (no ok trials with data to plot).\n");
    }
    for (Plot p : plots) {
      md.append("- [").append(esc(p.caption())).append("](").append(p.file()).append(")\n");
    }
    md.append("\n## Failed trials\n\n");
    if (s.failed().isEmpty()) {
      md.append("None.\n");
    } else {
      md.append("| trial | group | seed | error |\n| :--- | :--- | ---: | :--- |\n");
      for (FailedTrial f : s.failed()) {
        md.append(row(List.of(f.id(), f.group(), Long.toString(f.seed()),
            TableView.shortError(f.error()))));
      }
    }
    md.append("\nFiles: report.html (everything in one page), summary.csv, summary.json.\n");
    return md.toString();
  }

  /** A table: header, alignment row (text columns left, numbers right), rows. */
  private static String table(List<String> cols, List<List<String>> rows) {
    StringBuilder t = new StringBuilder(row(cols)).append('|');
    for (int i = 0; i < cols.size(); i++) {
      t.append(i < TableView.textColumns() ? " :--- |" : " ---: |");
    }
    t.append('\n');
    rows.forEach(r -> t.append(row(r)));
    return t.toString();
  }

  private static String row(List<String> cells) {
    StringBuilder b = new StringBuilder("|");
    for (String c : cells) {
      b.append(' ').append(esc(c).replace("|", "\\|")).append(" |");
    }
    return b.append('\n').toString();
  }

  /** Escapes the characters that would turn text into Markdown markup. */
  private static String esc(String s) {
    return s.replace("\\", "\\\\").replace("*", "\\*").replace("_", "\\_")
        .replace("<", "&lt;").replace("\n", " ");
  }
}
