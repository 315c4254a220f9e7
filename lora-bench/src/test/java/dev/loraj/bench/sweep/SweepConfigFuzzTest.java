package dev.loraj.bench.sweep;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.loraj.core.adapter.AdapterRegistry;
import dev.loraj.core.config.ConfigException;
import dev.loraj.core.fuzz.FuzzInvariant;
import java.nio.charset.StandardCharsets;

/**
 * Fuzz target for the sweep YAML and its expansion into trials: any text either plans (at most
 * {@link SweepConfig#MAX_TRIALS} trials, each with a valid adapter config and training
 * settings) or fails with a one-line {@link ConfigException} (an {@link
 * IllegalArgumentException} from the plan is accepted too: it names the bad entry).
 */
class SweepConfigFuzzTest {
  private static final AdapterRegistry REGISTRY = AdapterRegistry.discover();

  @FuzzTest
  void yaml(byte[] data) {
    try {
      SweepConfig cfg = SweepConfig.parse(new String(data, StandardCharsets.UTF_8));
      SweepPlan plan = SweepPlan.of(cfg, REGISTRY);
      if (plan.trials().size() > SweepConfig.MAX_TRIALS) {
        throw new AssertionError(plan.trials().size() + " trials planned");
      }
    } catch (ConfigException e) {
      FuzzInvariant.requireOneLine(e);
    } catch (IllegalArgumentException e) {
      FuzzInvariant.requireMessage(e);
    }
  }
}
