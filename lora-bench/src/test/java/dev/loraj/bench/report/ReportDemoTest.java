package dev.loraj.bench.report;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;

/**
 * Writes the synthetic sweep (with both baselines) and its report into a directory of your
 * choice, for looking at or for {@code scripts/check-report-html.sh}:
 * {@code mvn -q -B -o -pl lora-bench test -Dtest=ReportDemoTest -Dreport.demo.dir=/tmp/demo}.
 */
class ReportDemoTest {

  @Test
  @EnabledIfSystemProperty(named = "report.demo.dir", matches = ".+")
  void writeDemoReport() throws IOException {
    Path dir = Path.of(System.getProperty("report.demo.dir"));
    SyntheticTrials.write(dir, SyntheticTrials.withFullFineTuning());
    Summary s = Report.generate(dir);
    assertThat(s.rows()).hasSize(4);
  }
}
