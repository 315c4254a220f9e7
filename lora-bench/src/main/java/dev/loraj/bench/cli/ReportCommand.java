package dev.loraj.bench.cli;

import dev.loraj.bench.report.Report;
import dev.loraj.bench.report.Summary;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/** {@code lora report DIR}: aggregates a sweep's trial files into tables, charts and one HTML page. */
@Command(name = "report", mixinStandardHelpOptions = true,
    description = "Read DIR/trials/*.json and write report.md, report.html, summary.csv,"
        + " summary.json and PNG charts into DIR, with each row's difference from a reference row"
        + " paired by seed (95%% t-interval).")
final class ReportCommand implements Callable<Integer> {

  @Parameters(index = "0", paramLabel = "DIR", description = "The sweep directory (holds trials/).")
  Path dir;

  @picocli.CommandLine.Option(names = "--reference", paramLabel = "ROW",
      description = "The row other rows are compared with, paired by seed: a group label as the report"
          + " shows it, or a method (its best row). Default: the sweep file's report.reference, else lora.")
  String reference;

  @picocli.CommandLine.Spec picocli.CommandLine.Model.CommandSpec spec;

  @Override
  public Integer call() throws Exception {
    Usage.directory(spec, "sweep directory", dir);
    Summary s = Report.generate(dir, reference);
    System.out.println("report for sweep " + s.sweepName() + ": " + s.rows().size() + " groups, "
        + s.trialsOk() + " ok trials, " + s.trialsFailed() + " failed");
    for (String f : new String[] {Report.REPORT_MD, Report.REPORT_HTML, Report.SUMMARY_CSV,
        Report.SUMMARY_JSON}) {
      System.out.println("  " + dir.resolve(f));
    }
    return 0;
  }
}
