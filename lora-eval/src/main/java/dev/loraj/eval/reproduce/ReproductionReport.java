package dev.loraj.eval.reproduce;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/** Renders results as {@code reproductions.md} (summary table + one section each) and JSON. */
public final class ReproductionReport {
  private ReproductionReport() {}

  /** Markdown: a summary table, then per reproduction its claim, method and checks. */
  public static String markdown(Collection<ReproductionResult> results, Map<String, String> provenance) {
    StringBuilder sb = new StringBuilder("# Reproductions\n\n");
    provenance.forEach((k, v) -> sb.append("- ").append(k).append(": ").append(v).append('\n'));
    sb.append("\n| id | reproduction | source | kind | status | time |\n|---|---|---|---|---|---|\n");
    for (ReproductionResult r : results) {
      sb.append("| ").append(r.id()).append(" | ").append(cell(r.title())).append(" | ")
          .append(cell(r.source())).append(" | ").append(r.kind().name().toLowerCase(Locale.ROOT))
          .append(r.quick() && r.kind() == Reproduction.Kind.MEASURED ? " (quick)" : "")
          .append(" | ").append(r.status().label()).append(" | ")
          .append(r.status() == Status.NOT_IMPLEMENTED ? "" : String.format(Locale.ROOT, "%.1f s", r.seconds()))
          .append(" |\n");
    }
    for (ReproductionResult r : results) {
      sb.append("\n## ").append(r.id()).append(": ").append(r.title()).append("\n\n");
      sb.append("- Source: ").append(r.source()).append('\n');
      sb.append("- Claim: ").append(r.claim()).append('\n');
      if (r.status() == Status.NOT_IMPLEMENTED) {
        sb.append("- Status: not yet implemented\n");
        continue;
      }
      sb.append("- Method: ").append(r.method()).append('\n');
      sb.append("- Status: **").append(r.status().label()).append("**\n\n");
      sb.append("| quantity | paper | ours | tolerance | status | note |\n|---|---|---|---|---|---|\n");
      for (Check c : r.checks()) {
        sb.append("| ").append(cell(c.quantity())).append(" | ").append(cell(c.paper())).append(" | ")
            .append(cell(c.ours())).append(" | ").append(cell(c.tolerance())).append(" | ")
            .append(c.status().label()).append(" | ").append(cell(c.note())).append(" |\n");
      }
    }
    return sb.toString();
  }

  /** One line per result, for the terminal. */
  public static String summaryLine(ReproductionResult r) {
    return String.format(Locale.ROOT, "%-28s %-20s %s", r.id(), r.status().label(), r.title());
  }

  public static String json(Collection<ReproductionResult> results, Map<String, String> provenance)
      throws IOException {
    Map<String, Object> out = new LinkedHashMap<>();
    out.put("provenance", provenance);
    out.put("reproductions", results);
    return new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(out);
  }

  /** Writes {@code reproductions.md} and {@code reproductions.json} into {@code dir}. */
  public static void write(Path dir, Collection<ReproductionResult> results,
      Map<String, String> provenance) throws IOException {
    Files.createDirectories(dir);
    Files.writeString(dir.resolve("reproductions.md"), markdown(results, provenance));
    Files.writeString(dir.resolve("reproductions.json"), json(results, provenance));
  }

  /** JDK, OS/arch and CPU count, for provenance. */
  public static Map<String, String> provenance(boolean quick) {
    Map<String, String> p = new LinkedHashMap<>();
    p.put("mode", quick ? "quick" : "full");
    p.put("jdk", System.getProperty("java.version"));
    p.put("os", System.getProperty("os.name") + " " + System.getProperty("os.arch"));
    p.put("cpus", Integer.toString(Runtime.getRuntime().availableProcessors()));
    return p;
  }

  private static String cell(String s) {
    return s.replace("|", "\\|").replace("\n", " ");
  }
}
