package dev.loraj.bench.report;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.loraj.bench.sweep.TrialResult;
import dev.loraj.core.adapter.ConfigCodec;
import dev.loraj.core.io.AtomicFiles;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Builds a sweep's report from its trial files.
 *
 * <p>Reads the trial files {@code DIR/trials/*.json} ({@link TrialResult}) of the sweep's current
 * definition (the ids {@code DIR/sweep.json} lists, when it exists; files of other definitions
 * and files that cannot be parsed are left out, with a warning) and writes into {@code DIR}:
 * {@code report.md} (header with provenance, one row per group best first, a generated
 * paragraph, plot links, failed trials), {@code summary.csv} and {@code summary.json} (the same
 * rows, full precision), the PNG charts, and {@code report.html} (all of it in one static file,
 * charts embedded). The text outputs depend only on the trial files: the same files give
 * byte-identical {@code report.md}, {@code summary.csv} and {@code summary.json}.
 */
public final class Report {

  public static final String TRIALS_DIR = "trials";
  public static final String REPORT_MD = "report.md";
  public static final String REPORT_HTML = "report.html";
  public static final String SUMMARY_CSV = "summary.csv";
  public static final String SUMMARY_JSON = "summary.json";

  private Report() {}

  /**
   * Reads {@code dir/trials/*.json} and writes the report files into {@code dir}.
   *
   * @return the aggregated summary (as written to summary.json)
   * @throws IOException if a trial file cannot be read or an output cannot be written
   * @throws IllegalArgumentException if there are no trial files, or the trials disagree on
   *     the primary metric, or one group mixes configurations
   */
  public static Summary generate(Path dir) throws IOException {
    return generate(dir, null);
  }

  /**
   * As {@link #generate(Path)}, with the reference row of the paired differences named by
   * {@code reference} (a group label or a method name); null takes the sweep's {@code
   * report.reference} from {@code sweep.json}, else the default (the best lora row). A sweep
   * file's reference that names no finished row (a shard without it, a partial run, its trials
   * failed) gives way to the default, with a warning: the report of the rows that did finish
   * is still written.
   *
   * @throws IllegalArgumentException when {@code reference} (given here) names no row of the sweep
   */
  public static Summary generate(Path dir, String reference) throws IOException {
    System.setProperty("java.awt.headless", "true");
    List<TrialResult> trials = readTrials(dir);
    String configured = reference != null ? reference : sweepReference(dir);
    Summary summary;
    try {
      summary = Aggregator.summarize(trials, configured);
    } catch (IllegalArgumentException e) {
      if (reference != null || configured == null) {
        throw e;
      }
      org.slf4j.LoggerFactory.getLogger(Report.class).warn("{} (sweep.json); the differences are taken from"
          + " the default reference instead", e.getMessage());
      summary = Aggregator.summarize(trials, null);
    }
    List<Plot> plots = Plots.render(summary, trials);
    for (Plot p : plots) {
      AtomicFiles.write(dir.resolve(p.file()), out -> out.write(p.png()));
    }
    write(dir.resolve(REPORT_MD), MarkdownReport.render(summary, plots));
    write(dir.resolve(SUMMARY_CSV), CsvReport.render(summary));
    write(dir.resolve(SUMMARY_JSON), summaryMapper().writeValueAsString(summary) + "\n");
    write(dir.resolve(REPORT_HTML), HtmlReport.render(summary, plots));
    return summary;
  }

  /**
   * The trial files of a sweep directory, in file-name order: those of the definition
   * {@code sweep.json} names (all, without one), skipping files that cannot be parsed (a
   * damaged record is run again by the next sweep run, never reported).
   */
  public static List<TrialResult> readTrials(Path dir) throws IOException {
    Path trialsDir = dir.resolve(TRIALS_DIR);
    if (!Files.isDirectory(trialsDir)) {
      throw new IllegalArgumentException(
          "no trials directory: " + trialsDir + " (expected DIR/trials/<id>.json from a sweep run)");
    }
    java.util.Set<String> planned = plannedIds(dir);
    List<Path> files = new ArrayList<>();
    int other = 0;
    try (DirectoryStream<Path> ds = Files.newDirectoryStream(trialsDir, "*.json")) {
      for (Path f : ds) {
        String id = f.getFileName().toString().replaceFirst("\\.json$", "");
        if (planned == null || planned.contains(id)) {
          files.add(f);
        } else {
          other++;
        }
      }
    }
    files.sort(null);
    if (other > 0) {
      System.err.println("report: left out " + other + " trial file(s) of another definition of"
          + " this sweep (not in " + dir.resolve("sweep.json") + ")");
    }
    List<TrialResult> trials = new ArrayList<>();
    for (Path f : files) {
      try {
        trials.add(TrialResult.read(f));
      } catch (IOException e) {
        System.err.println("report: left out " + f.getFileName() + ", which cannot be read (" + e.getMessage()
            + "); rerun the sweep to run the trial again");
      }
    }
    if (trials.isEmpty()) {
      throw new IllegalArgumentException("no readable trial files (*.json) of this sweep in " + trialsDir);
    }
    return trials;
  }

  /** {@code report.reference} of the definition in {@code sweep.json}; null when not set. */
  private static String sweepReference(Path dir) throws IOException {
    Path sweep = dir.resolve("sweep.json");
    if (!Files.isRegularFile(sweep)) {
      return null;
    }
    var ref = new ObjectMapper().readTree(sweep.toFile()).path("definition").path("report").path("reference");
    return ref.isTextual() ? ref.asText() : null;
  }

  /** The ids {@code sweep.json} lists, or null when there is no such file. */
  private static java.util.Set<String> plannedIds(Path dir) throws IOException {
    Path sweep = dir.resolve("sweep.json");
    if (!Files.isRegularFile(sweep)) {
      return null;
    }
    java.util.Set<String> ids = new java.util.HashSet<>();
    new ObjectMapper().readTree(sweep.toFile()).path("trials").forEach(n -> ids.add(n.asText()));
    return ids.isEmpty() ? null : ids;
  }

  /** Snake_case, sorted map keys, indented: the summary.json format. */
  static ObjectMapper summaryMapper() {
    return ConfigCodec.configure(new ObjectMapper()).enable(SerializationFeature.INDENT_OUTPUT);
  }

  private static void write(Path file, String text) throws IOException {
    AtomicFiles.writeString(file, text);
  }
}
