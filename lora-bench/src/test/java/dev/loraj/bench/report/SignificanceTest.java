package dev.loraj.bench.report;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import dev.loraj.bench.sweep.TrialResult;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Paired differences from the reference row, their intervals, and what the report says with one seed. */
class SignificanceTest {

  @TempDir Path dir;

  @Test
  void twoSeedsGiveAPairedIntervalPerRowAndMarkThoseThatExcludeZero() throws IOException {
    List<TrialResult> trials = new ArrayList<>();
    double[] lora = {0.80, 0.82};
    double[] head = {0.70, 0.71};
    double[] full = {0.79, 0.84};
    for (int s = 0; s < 2; s++) {
      trials.add(SyntheticTrials.trial("lora r=4 a=8", "lora", false, 4, s + 1, lora[s], 8_192, 300L << 20, 1));
      trials.add(SyntheticTrials.trial("head_only", TrialResult.HEAD_ONLY, true, null, s + 1, head[s], 1_026, 250L << 20, 1));
      trials.add(SyntheticTrials.trial("full_ft", TrialResult.FULL_FT, true, null, s + 1, full[s], 1_000_000, 900L << 20, 1));
    }
    trials.add(SyntheticTrials.trial("dora r=8 a=16", "dora", false, 8, 1, 0.85, 16_640, 310L << 20, 1));
    SyntheticTrials.write(dir, trials);
    Summary s = Report.generate(dir);

    assertThat(s.reference()).isEqualTo("lora r=4 a=8");
    assertThat(s.rankingSupported()).isTrue();
    PairedDifference h = difference(s, "head_only");
    // differences -0.10 and -0.11: mean -0.105, s = 0.00707, t(0.975, 1) = 12.7062
    assertThat(h.seeds()).containsExactly(1L, 2L);
    assertThat(h.mean()).isCloseTo(-0.105, within(1e-12));
    double half = 12.7062 * Math.sqrt(0.00005) / Math.sqrt(2);
    assertThat(h.low()).isCloseTo(-0.105 - half, within(1e-9));
    assertThat(h.high()).isCloseTo(-0.105 + half, within(1e-9));
    assertThat(h.verdict()).isEqualTo(PairedDifference.WORSE);
    // differences -0.01 and +0.02: the interval contains zero
    assertThat(difference(s, "full_ft").verdict()).isEqualTo(PairedDifference.NOT_SIGNIFICANT);
    assertThat(difference(s, "dora r=8 a=16").verdict()).isEqualTo(PairedDifference.SINGLE_SEED);

    String md = Files.readString(dir.resolve(Report.REPORT_MD));
    assertThat(md).contains("## Differences from the reference")
        .contains("Reference row: lora r=4 a=8 (the default: the best lora row")
        .contains("95% confidence interval mean ± t(0.975, n-1)")
        .contains(Fmt.f("| head\\_only | head\\_only | 2 (1, 2) | -0.1050 | [%+.4f, %+.4f] | yes: worse ✱ |",
            -0.105 - half, -0.105 + half))
        .contains("| full\\_ft | full\\_ft | 2 (1, 2) | +0.0050 |")
        .contains("| no |")
        .contains("| dora r=8 a=16 | dora | 1 (1) | +0.0500 | – | single seed: no interval |")
        .contains("| 1 (single seed) |")
        .contains("Highest (single seed, not a ranking): dora r=8 a=16 (dora) with accuracy 0.8500")
        .contains("significantly worse: head\\_only -0.1050")
        .contains("Single seed in common with the reference, so no interval and no ranking: dora r=8 a=16.");
    assertThat(Files.readString(dir.resolve(Report.REPORT_HTML))).contains("yes: worse ✱");
    assertThat(Files.readString(dir.resolve(Report.SUMMARY_CSV))).contains(",lora r=4 a=8,-0.105")
        .contains(",worse\n").contains(",reference\n");
  }

  @Test
  void aSweepFileReferenceWithoutAFinishedRowGivesWayToTheDefault() throws IOException {
    List<TrialResult> trials = new ArrayList<>();
    for (int s = 0; s < 2; s++) { // a shard (or a partial run) without the reference's trials
      trials.add(SyntheticTrials.trial("head_only", TrialResult.HEAD_ONLY, true, null, s + 1, 0.7 + s / 100.0, 1_026, 250L << 20, 1));
      trials.add(SyntheticTrials.trial("full_ft", TrialResult.FULL_FT, true, null, s + 1, 0.8 + s / 50.0, 1_000_000, 900L << 20, 1));
    }
    SyntheticTrials.write(dir, trials);
    Files.writeString(dir.resolve("sweep.json"), "{\"definition\": {\"report\": {\"reference\": \"lora\"}}}");
    Summary s = Report.generate(dir);
    assertThat(s.referenceChoice()).isEqualTo("no lora row: the best row");
    assertThat(dir.resolve(Report.REPORT_MD)).exists();
    assertThatThrownBy(() -> Report.generate(dir, "lora")).as("named on the command line: still an error")
        .hasMessageContaining("report.reference = 'lora'");
  }

  @Test
  void oneSeedSaysPlainlyThatNoRankingIsSupported() throws IOException {
    List<TrialResult> trials = new ArrayList<>();
    trials.add(SyntheticTrials.trial("lora r=4 a=8", "lora", false, 4, 1, 0.80, 8_192, 300L << 20, 1));
    trials.add(SyntheticTrials.trial("head_only", TrialResult.HEAD_ONLY, true, null, 1, 0.70, 1_026, 250L << 20, 1));
    SyntheticTrials.write(dir, trials);
    Summary s = Report.generate(dir);

    assertThat(s.rankingSupported()).isFalse();
    String md = Files.readString(dir.resolve(Report.REPORT_MD));
    assertThat(md).contains("the table supports no ranking")
        .contains("Highest (not a ranking): lora r=4 a=8 (lora)")
        .doesNotContain("95% CI |")
        .doesNotContain("Best:");
  }

  @Test
  void onlyCommonSeedsArePairedAndTheReferenceCanBeChosen() {
    List<TrialResult> trials = new ArrayList<>();
    double[] lora = {0.80, 0.82, 0.84};
    double[] full = {0.0, 0.86, 0.90};
    for (int s = 0; s < 3; s++) {
      trials.add(SyntheticTrials.trial("lora r=4 a=8", "lora", false, 4, s + 1, lora[s], 8_192, 300L << 20, 1));
      trials.add(SyntheticTrials.trial("lora r=8 a=8", "lora", false, 8, s + 1, lora[s] - 0.1, 16_384, 300L << 20, 1));
      if (s > 0) {
        trials.add(SyntheticTrials.trial("full_ft", TrialResult.FULL_FT, true, null, s + 1, full[s], 1_000_000, 900L << 20, 1));
      }
    }
    Summary s = Aggregator.summarize(trials);
    // seeds 2 and 3 only: differences +0.04 and +0.06
    PairedDifference f = difference(s, "full_ft");
    assertThat(f.seeds()).containsExactly(2L, 3L);
    assertThat(f.mean()).isCloseTo(0.05, within(1e-12));

    // a method name picks that method's best row; a group label picks the row itself
    assertThat(Aggregator.summarize(trials, "lora").reference()).isEqualTo("lora r=4 a=8");
    Summary byGroup = Aggregator.summarize(trials, "lora r=8 a=8");
    assertThat(byGroup.reference()).isEqualTo("lora r=8 a=8");
    assertThat(difference(byGroup, "lora r=4 a=8").verdict()).isEqualTo(PairedDifference.BETTER);
    assertThat(Aggregator.summarize(trials, "full_ft").referenceChoice()).isEqualTo("report.reference");
    assertThatThrownBy(() -> Aggregator.summarize(trials, "dora"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("report.reference = 'dora'").hasMessageContaining("full_ft");
    // without a lora row: the best row
    List<TrialResult> noLora = trials.stream().filter(t -> !t.variant().equals("lora")).toList();
    assertThat(Aggregator.summarize(noLora).referenceChoice()).isEqualTo("no lora row: the best row");
  }

  @Test
  void studentTQuantilesMatchTheTables() {
    assertThat(Significance.tQuantile975(1)).isEqualTo(12.7062);
    assertThat(Significance.tQuantile975(4)).isEqualTo(2.7764);
    // beyond the table, the expansion: scipy.stats.t.ppf(0.975, df)
    assertThat(Significance.tQuantile975(31)).isCloseTo(2.039513, within(1e-4));
    assertThat(Significance.tQuantile975(60)).isCloseTo(2.000298, within(1e-4));
    assertThat(Significance.tQuantile975(1000)).isCloseTo(1.962339, within(1e-4));
    assertThatThrownBy(() -> Significance.tQuantile975(0)).hasMessageContaining("degrees of freedom = 0");
  }

  private static PairedDifference difference(Summary s, String group) {
    return s.differences().stream().filter(d -> d.group().equals(group)).findFirst().orElseThrow();
  }
}
