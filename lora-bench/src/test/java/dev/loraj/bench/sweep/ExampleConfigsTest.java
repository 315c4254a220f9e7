package dev.loraj.bench.sweep;

import static org.assertj.core.api.Assertions.assertThat;

import dev.loraj.core.adapter.AdapterRegistry;
import dev.loraj.core.config.ConfigFiles;
import dev.loraj.eval.continual.ContinualSpec;
import java.nio.file.Path;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The shipped example files pass the strict readers (nothing is built or run). */
class ExampleConfigsTest {

  @ParameterizedTest
  @ValueSource(strings = {"quickstart.yaml", "synthetic.yaml", "spark-3trials.yaml"})
  void sweepExamplesPlan(String file) throws Exception {
    SweepConfig cfg = SweepConfig.read(Path.of("..", "examples", file));
    assertThat(SweepPlan.of(cfg, AdapterRegistry.discover()).trials()).isNotEmpty();
  }

  @ParameterizedTest
  @ValueSource(strings = {"continual.yaml", "continual-text.yaml"})
  void continualExamplesValidate(String file) throws Exception {
    ContinualSpec.Definition d = ContinualSpec.definition(
        ConfigFiles.readTree(Path.of("..", "examples", file), "continual config"));
    assertThat(d.orders()).allSatisfy(o -> assertThat(o).hasSize(d.taskCount()));
  }
}
