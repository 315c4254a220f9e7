package dev.loraj.core.checkpoint;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.loraj.core.adapter.AdapterRegistry;
import dev.loraj.core.fuzz.FuzzInvariant;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/**
 * Fuzz target for PEFT's {@code adapter_config.json}: any file content either reads as a config
 * (a registered variant, a valid adapter config and target selection) or fails with an {@link
 * IllegalArgumentException} naming the field.
 */
class PeftAdapterConfigFuzzTest {
  private static final AdapterRegistry REGISTRY = AdapterRegistry.discover();
  private static Path dir;

  @BeforeAll
  static void createDirectory() throws IOException {
    dir = FuzzInvariant.scratchDirectory("peft-config-fuzz");
  }

  @AfterAll
  static void deleteDirectory() throws IOException {
    FuzzInvariant.deleteScratchDirectory(dir);
  }

  @FuzzTest
  void config(byte[] data) throws IOException {
    Files.write(dir.resolve(PeftAdapters.CONFIG_FILE), data);
    try {
      PeftAdapterConfig c = PeftAdapters.readConfig(dir, REGISTRY);
      if (c.spec() == null || c.spec().config().rank() <= 0 || !REGISTRY.contains(c.variant())) {
        throw new AssertionError("accepted an invalid config: " + c);
      }
    } catch (IllegalArgumentException e) {
      FuzzInvariant.requireMessage(e);
    }
  }
}
