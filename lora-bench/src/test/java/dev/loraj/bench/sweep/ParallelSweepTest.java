package dev.loraj.bench.sweep;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.loraj.bench.report.Report;
import dev.loraj.core.adapter.AdapterRegistry;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A sweep on two worker JVMs writes the trial ids, records (measurements aside) and report rows
 * of the serial run, and a rerun of it skips every finished trial.
 */
class ParallelSweepTest {

  /** Two trials (head only, LoRA r 2), one per worker. */
  static final String YAML = SweepRunnerTest.YAML.replace("seeds: [1, 2]", "seeds: [1]")
      .replace("rank: [1, 2]", "rank: 2");

  /** Fields of a trial record that are measurements of the run, not results of the trial. */
  static final List<String> MEASURED = List.of("provenance", "peak_offheap_bytes", "peak_heap_bytes",
      "peak_rss_bytes", "peak_rss_delta_bytes", "rss_after_setup_bytes", "peak_rss_source", "memory",
      "step_ms_median", "tokens_per_s", "train_seconds");

  final AdapterRegistry registry = AdapterRegistry.discover();
  final PrintStream quiet = new PrintStream(java.io.OutputStream.nullOutputStream());

  @Test
  void twoJobsWriteWhatOneJobWrites(@TempDir Path tmp) throws Exception {
    Path file = tmp.resolve("tiny.yaml");
    Files.writeString(file, YAML);
    SweepConfig cfg = SweepConfig.read(file);
    Path serial = tmp.resolve("serial");
    Path parallel = tmp.resolve("parallel");
    SweepRunner.Outcome one = new SweepRunner(registry, quiet).run(cfg, serial, 0, 1);
    SweepRunner.Outcome two = ParallelSweep.run(new SweepRunner(registry, quiet), cfg, file, parallel, 0, 1,
        2, 1, List.of(), quiet);
    assertThat(one.ran()).isEqualTo(2);
    assertThat(two.ran()).isEqualTo(2);
    assertThat(two.failed()).isZero();
    List<String> ids = names(serial.resolve("trials"));
    assertThat(names(parallel.resolve("trials"))).isEqualTo(ids).hasSize(2);
    ObjectMapper m = new ObjectMapper();
    for (String id : ids) {
      assertThat(results(m, parallel.resolve("trials").resolve(id)))
          .as(id).isEqualTo(results(m, serial.resolve("trials").resolve(id)));
    }
    assertThat(Files.readString(parallel.resolve("sweep.json"))).isEqualTo(Files.readString(serial.resolve("sweep.json")));
    Report.generate(serial);
    Report.generate(parallel);
    assertThat(SweepRunnerTest.metrics(m.readTree(parallel.resolve("summary.json").toFile())))
        .isEqualTo(SweepRunnerTest.metrics(m.readTree(serial.resolve("summary.json").toFile())));

    SweepRunner.Outcome again = ParallelSweep.run(new SweepRunner(registry, quiet), cfg, file, parallel, 0, 1,
        2, 1, List.of(), quiet);
    assertThat(again.skipped()).isEqualTo(2);
    assertThat(again.ran()).isZero();
  }

  private static List<String> names(Path dir) throws Exception {
    try (Stream<Path> s = Files.list(dir)) {
      return s.map(p -> p.getFileName().toString()).sorted().toList();
    }
  }

  private static JsonNode results(ObjectMapper m, Path record) throws Exception {
    ObjectNode n = (ObjectNode) m.readTree(record.toFile());
    n.remove(MEASURED);
    return n;
  }

  /**
   * Workers take the quickstart's trials longest first: both full fine-tuning trials, then the
   * adapters, head-only last; and each worker JVM gets its share of processors.
   */
  @Test
  void workersTakeLongTrialsFirstAndTheirShareOfProcessors() throws Exception {
    SweepConfig cfg = SweepConfig.read(Path.of("..", "examples", "quickstart.yaml"));
    List<TrialSpec> trials = new java.util.ArrayList<>(SweepPlan.of(cfg, registry).trials());
    trials.sort(java.util.Comparator.comparingDouble(ParallelSweep::expectedCost).reversed());
    List<String> order = trials.stream().map(TrialSpec::variant).toList();
    assertThat(order.subList(0, 2)).containsOnly(TrialSpec.FULL_FT);
    assertThat(order.subList(order.size() - 5, order.size())).containsOnly(TrialSpec.HEAD_ONLY);
    assertThat(ParallelSweep.workerJvmOptions(1))
        .containsExactly("-Dloraj.threads=1", "-XX:ActiveProcessorCount=1");
  }
}
