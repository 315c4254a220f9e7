package dev.loraj.bench.sweep;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.loraj.core.adapter.AdapterRegistry;
import dev.loraj.eval.task.Task;
import dev.loraj.eval.task.Tasks;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * A trial's memory ledger does not depend on which trials ran before it in the same JVM: the
 * same trial run first and last (after full fine-tuning and a quantized adapter) records the same
 * bytes in every category, and its estimate agrees with its ledger where the estimate is exact.
 */
class TrialIsolationTest {

  static final String YAML = """
      name: isolation
      task: {kind: synthetic, width: 32, classes: 3, shift_rank: 2, test_examples: 50, seed: 0}
      train: {steps: 4, batch_size: 16, learning_rate: 1.0e-2}
      seeds: [1]
      targets: {target_modules: all-linear}
      baselines:
        - {kind: full_ft}
      variants:
        - {type: lora, rank: 2, alpha: 4}
        - {type: qlora, rank: 2, alpha: 4, block_size: 32}
      """;

  @Test
  void theSameTrialFirstAndLastHasTheSameLedger() throws Exception {
    AdapterRegistry registry = AdapterRegistry.discover();
    SweepConfig cfg = SweepConfig.parse(YAML);
    Task task = Tasks.create(cfg.task());
    List<TrialSpec> trials = SweepPlan.of(cfg, registry).trials();
    TrialSpec lora = trials.stream().filter(t -> t.variant().equals("lora")).findFirst().orElseThrow();
    TrialRunner runner = new TrialRunner(registry, new ObjectMapper());
    JsonNode first = runner.run(cfg.name(), cfg, lora, task, null);
    for (TrialSpec t : trials) {
      if (t != lora) {
        assertThat(runner.run(cfg.name(), cfg, t, task, null).path("status").asText()).isEqualTo("ok");
      }
    }
    JsonNode last = runner.run(cfg.name(), cfg, lora, task, null);
    assertThat(first.path("status").asText()).isEqualTo("ok");
    assertThat(last.path("memory")).isEqualTo(first.path("memory"));
    assertThat(first.path("memory").path("trainable").asLong()).isPositive();
    assertThat(first.path("memory").path("optimizer").asLong())
        .isEqualTo(2 * first.path("memory").path("trainable").asLong());
    for (String c : List.of("frozen", "quantized", "trainable", "gradients", "optimizer")) {
      assertThat(first.path("memory").path(c).asLong()).as(c)
          .isEqualTo(first.path("memory_estimate").path(c).asLong());
    }
    assertThat(first.path("peak_rss_bytes").asLong()).isPositive();
    assertThat(first.has("peak_rss_delta_bytes")).isTrue();
  }
}
