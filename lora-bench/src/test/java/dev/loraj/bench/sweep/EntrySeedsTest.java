package dev.loraj.bench.sweep;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.loraj.core.adapter.AdapterRegistry;
import dev.loraj.core.config.ConfigException;
import java.util.List;
import org.junit.jupiter.api.Test;

/** An entry's own seeds, and the report section of a sweep file (planning only: nothing trains). */
class EntrySeedsTest {

  final AdapterRegistry registry = AdapterRegistry.discover();

  @Test
  void anEntrysSeedsReplaceTheSweepsAndKeepTheTrialIds() {
    SweepConfig own = SweepConfig.parse(SweepRunnerTest.YAML
        .replace("- {kind: head_only}", "- {kind: head_only, seeds: [1, 2, 3]}")
        .replace("alpha: 4}", "alpha: 4, seeds: [2]}"));
    SweepPlan plan = SweepPlan.of(own, registry);
    assertThat(plan.trials()).extracting(t -> t.group() + " s" + t.seed()).containsExactly(
        "head_only s1", "head_only s2", "head_only s3", "lora r=1 a=4 s2", "lora r=2 a=4 s2");
    // seeds is not a grid axis, not a config field, not part of a group label or an id
    List<String> ids = SweepPlan.of(SweepConfig.parse(SweepRunnerTest.YAML), registry).trials().stream()
        .map(TrialSpec::id).toList();
    assertThat(ids).containsAll(plan.trials().stream().filter(t -> t.seed() <= 2).map(TrialSpec::id).toList());
  }

  @Test
  void badEntrySeedsAndReportKeysAreRefusedWithTheirPlace() {
    assertThatThrownBy(() -> SweepConfig.parse(SweepRunnerTest.YAML.replace("alpha: 4}", "alpha: 4, seeds: [1, 1]}")))
        .isInstanceOf(ConfigException.class).hasMessageContaining("variants[0].seeds = [1, 1]");
    assertThatThrownBy(() -> SweepConfig.parse(SweepRunnerTest.YAML.replace("- {kind: head_only}",
        "- {kind: head_only, seeds: []}")))
        .isInstanceOf(ConfigException.class).hasMessageContaining("baselines[0].seeds");
    assertThatThrownBy(() -> SweepConfig.parse(SweepRunnerTest.YAML + "report: {refrence: lora}\n"))
        .isInstanceOf(ConfigException.class).hasMessageContaining("'reference'");
    SweepConfig noSuchRow = SweepConfig.parse(SweepRunnerTest.YAML + "report: {reference: dora}\n");
    assertThat(noSuchRow.reference()).isEqualTo("dora");
    assertThatThrownBy(() -> SweepPlan.of(noSuchRow, registry))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("report.reference = 'dora'").hasMessageContaining("lora r=1 a=4");
  }
}
