package dev.loraj.bench.report;

import static org.assertj.core.api.Assertions.assertThat;

import dev.loraj.bench.sweep.TrialResult;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The loss chart stays readable with an outlier curve and says how. */
class LossPlotTest {

  @TempDir Path dir;

  @Test
  void anOutlierCurveTurnsTheAxisLogarithmicAndTheCaptionSaysSo() throws IOException {
    List<TrialResult> trials = new ArrayList<>();
    trials.add(SyntheticTrials.trial("lora r=4 a=8", "lora", false, 4, 1, 0.80, 8_192, 300L << 20, 1));
    trials.add(SyntheticTrials.trial("head_only", TrialResult.HEAD_ONLY, true, null, 1, 0.70, 1_026, 250L << 20, 1));
    SyntheticTrials.write(dir, trials);
    Report.generate(dir);
    assertThat(Files.readString(dir.resolve(Report.REPORT_MD)))
        .contains("[training task loss curves (mean over seeds per group)](loss_curves.png)");

    // a curve starting near 200 where the others start near 1.3
    trials.add(SyntheticTrials.trial("dora r=8 a=16", "dora", false, 8, 1, 0.75, 16_640, 310L << 20, 200));
    SyntheticTrials.write(dir, trials);
    Report.generate(dir);
    assertThat(Files.readString(dir.resolve(Report.REPORT_MD)))
        .contains("training task loss curves (mean over seeds per group) (log scale: highest point over 10x the median)");
    assertThat(dir.resolve(Plots.LOSS_CURVES)).isNotEmptyFile();
  }
}
