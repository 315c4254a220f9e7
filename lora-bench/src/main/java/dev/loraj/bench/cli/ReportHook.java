package dev.loraj.bench.cli;

import dev.loraj.bench.report.Report;
import java.nio.file.Path;

/** Writes the report at the end of a sweep. */
final class ReportHook {
  private ReportHook() {}

  static void afterSweep(Path dir) throws Exception {
    Report.generate(dir);
    System.out.println("report: " + dir.resolve(Report.REPORT_MD).toAbsolutePath());
    System.out.println("        " + dir.resolve(Report.REPORT_HTML).toAbsolutePath());
  }
}
