package dev.loraj.eval.continual;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.loraj.core.config.ConfigException;
import dev.loraj.core.config.ConfigFiles;
import dev.loraj.core.fuzz.FuzzInvariant;
import java.nio.charset.StandardCharsets;

/**
 * Fuzz target for the continual-learning YAML: any text either validates (every order a
 * permutation of the tasks, every number in range) or fails with a one-line {@link
 * ConfigException}. The sequence is not built (no data loaded, no model made).
 */
class ContinualSpecFuzzTest {

  @FuzzTest
  void yaml(byte[] data) {
    try {
      ContinualSpec.Definition d =
          ContinualSpec.definition(ConfigFiles.parse(new String(data, StandardCharsets.UTF_8), false, "continual config"));
      for (var order : d.orders()) {
        if (order.size() != d.taskCount()) {
          throw new AssertionError("order " + order + " for " + d.taskCount() + " tasks");
        }
      }
      if (d.seeds().isEmpty() || d.methods().isEmpty()) {
        throw new AssertionError("empty seeds or methods accepted");
      }
    } catch (ConfigException e) {
      FuzzInvariant.requireOneLine(e);
    }
  }
}
