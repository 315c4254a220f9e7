package dev.loraj.bench.report;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import dev.loraj.bench.sweep.TrialResult;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class AggregatorTest {

  @Test
  void meanStdUsesSampleStdAndLeavesItOutForOneSeed() {
    MeanStd m = MeanStd.of(List.of(1.0, 2.0, 3.0, 4.0));
    assertThat(m.mean()).isEqualTo(2.5);
    assertThat(m.std()).isCloseTo(Math.sqrt(5.0 / 3.0), within(1e-15));
    assertThat(MeanStd.of(List.of(7.0)).std()).isNull();
    assertThat(MeanStd.of(List.of()).n()).isZero();
    assertThat(MeanStd.median(List.of(3.0, 1.0, 2.0))).isEqualTo(2.0);
    assertThat(MeanStd.median(List.of(4.0, 1.0, 2.0, 3.0))).isEqualTo(2.5);
  }

  @Test
  void lowerIsBetterSortsAscending() {
    List<TrialResult> trials = new ArrayList<>();
    for (TrialResult t : SyntheticTrials.trials()) {
      trials.add(withPrimary(t, "eval_loss", false));
    }
    Summary s = Aggregator.summarize(trials);
    assertThat(s.metricNames()).containsExactly("eval_loss", "accuracy", "macro_f1");
    assertThat(s.rows()).extracting(GroupSummary::group)
        .containsExactly("dora r=8 a=16", "lora r=4 a=8", "head_only");
    assertThat(s.rows().get(0).metric("eval_loss").mean()).isCloseTo(0.14, within(1e-12));
  }

  @Test
  void resultDoesNotDependOnInputOrder() {
    List<TrialResult> reversed = new ArrayList<>(SyntheticTrials.trials());
    java.util.Collections.reverse(reversed);
    assertThat(Aggregator.summarize(reversed)).isEqualTo(Aggregator.summarize(SyntheticTrials.trials()));
  }

  @Test
  void groupMixingVariantsIsRefused() {
    List<TrialResult> trials = new ArrayList<>(SyntheticTrials.trials());
    trials.add(SyntheticTrials.failed("lora r=4 a=8", "dora", 4, 9, "x"));
    assertThatThrownBy(() -> Aggregator.summarize(trials))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("group 'lora r=4 a=8' mixes configurations")
        .hasMessageContaining("variant=dora");
  }

  private static TrialResult withPrimary(TrialResult t, String primary, boolean higherIsBetter) {
    return new TrialResult(t.id(), t.sweep(), t.group(), t.variant(), t.baseline(), t.rank(),
        t.config(), t.targets(), t.task(), t.dataset(), t.datasetSha256(), t.seed(), t.train(),
        t.metrics(), primary, higherIsBetter, t.lossCurve(), t.taskLossCurve(), t.trainableParams(), t.totalParams(),
        t.adapterFileBytes(), t.optimizerStateBytes(), t.peakOffheapBytes(), t.peakHeapBytes(),
        t.peakRssBytes(), t.analyticMemoryBytes(), t.memory(), t.memoryEstimate(), t.peakRssDeltaBytes(),
        t.rssAfterSetupBytes(), t.peakRssSource(), t.stepMsMedian(), t.tokensPerS(),
        t.trainSeconds(), t.status(), t.error(), t.provenance());
  }
}
