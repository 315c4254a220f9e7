package dev.loraj.core.engine;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/**
 * The engine follows {@code -Dloraj.engine} on the CPU backend: the build's second test execution
 * (portable-engine) sets it to portable, so this also proves that execution ran portable.
 */
class EngineSelectionTest {

  @Test
  void engineFollowsTheSystemProperty() {
    String p = System.getProperty("loraj.engine", "auto");
    Engine e = Engine.current();
    assertThat(e.cpuBackend()).isTrue();
    assertThat(e.mode()).isEqualTo(p.equals("portable") ? Engine.Mode.PORTABLE : Engine.Mode.OPTIMIZED);
    assertThat(e.describe()).isEqualTo("backend CPU, engine " + e.mode().label()
        + (e.mode() == Engine.Mode.PORTABLE ? " (ND4J ops only)" : " (host kernels, vector kernels, replay)"));
  }

  @Test
  void optimizedCanBeSelectedOnTheCpuAndRestored() {
    Engine.Mode before = Engine.current().mode();
    try (Engine.Scope s = Engine.use(Engine.Mode.OPTIMIZED)) {
      assertThat(Engine.current().hostKernels()).isTrue();
      try (Engine.Scope t = Engine.use(Engine.Mode.PORTABLE)) {
        assertThat(Engine.portable()).isTrue();
      }
      assertThat(Engine.portable()).isFalse();
    }
    assertThat(Engine.current().mode()).isEqualTo(before);
  }
}
