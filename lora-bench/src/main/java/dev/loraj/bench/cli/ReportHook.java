package dev.loraj.bench.cli;

import java.nio.file.Path;

/** Writes the report after a sweep (the report generator plugs in here). */
final class ReportHook {
  private ReportHook() {}

  static void afterSweep(Path dir) throws Exception {
    System.out.println("trials in " + dir.resolve("trials").toAbsolutePath());
  }
}
