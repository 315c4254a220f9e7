package dev.loraj.bench.report;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.loraj.bench.sweep.TrialResult;
import dev.loraj.core.adapter.ConfigCodec;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Builds a sweep's report from its trial files.
 *
 * <p>Reads every {@code DIR/trials/*.json} ({@link TrialResult}) and writes into {@code DIR}:
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
    System.setProperty("java.awt.headless", "true");
    List<TrialResult> trials = readTrials(dir);
    Summary summary = Aggregator.summarize(trials);
    List<Plot> plots = Plots.render(summary, trials);
    for (Plot p : plots) {
      Files.write(dir.resolve(p.file()), p.png());
    }
    write(dir.resolve(REPORT_MD), MarkdownReport.render(summary, plots));
    write(dir.resolve(SUMMARY_CSV), CsvReport.render(summary));
    write(dir.resolve(SUMMARY_JSON), summaryMapper().writeValueAsString(summary) + "\n");
    write(dir.resolve(REPORT_HTML), HtmlReport.render(summary, plots));
    return summary;
  }

  /** All trial files of a sweep directory, in file-name order. */
  public static List<TrialResult> readTrials(Path dir) throws IOException {
    Path trialsDir = dir.resolve(TRIALS_DIR);
    if (!Files.isDirectory(trialsDir)) {
      throw new IllegalArgumentException(
          "no trials directory: " + trialsDir + " (expected DIR/trials/<id>.json from a sweep run)");
    }
    List<Path> files = new ArrayList<>();
    try (DirectoryStream<Path> ds = Files.newDirectoryStream(trialsDir, "*.json")) {
      ds.forEach(files::add);
    }
    files.sort(null);
    if (files.isEmpty()) {
      throw new IllegalArgumentException("no trial files (*.json) in " + trialsDir);
    }
    List<TrialResult> trials = new ArrayList<>();
    for (Path f : files) {
      trials.add(TrialResult.read(f));
    }
    return trials;
  }

  /** Snake_case, sorted map keys, indented: the summary.json format. */
  static ObjectMapper summaryMapper() {
    return ConfigCodec.configure(new ObjectMapper()).enable(SerializationFeature.INDENT_OUTPUT);
  }

  private static void write(Path file, String text) throws IOException {
    Files.writeString(file, text, StandardCharsets.UTF_8);
  }
}
