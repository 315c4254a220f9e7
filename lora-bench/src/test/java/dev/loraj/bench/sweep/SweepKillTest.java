package dev.loraj.bench.sweep;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.loraj.bench.report.Report;
import dev.loraj.core.adapter.AdapterRegistry;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Kills real {@code lora sweep} processes with SIGKILL at random points while they train and
 * save, reruns the same command each time, and checks that the sweep ends with exactly the
 * results of an uninterrupted run: every planned trial once, status ok, the same metrics and
 * loss curves (trials killed mid-way continue from their training checkpoint), no temporary
 * file and no checkpoint left behind.
 */
class SweepKillTest {
  static final String YAML = """
      name: killed
      task: {kind: synthetic, width: 48, classes: 3, shift_rank: 2, test_examples: 200, seed: 0}
      train: {steps: 12, batch_size: 32, learning_rate: 1.0e-2, checkpoint_every: 4}
      seeds: [1, 2, 3]
      targets: {target_modules: all-linear}
      baselines:
        - {kind: head_only}
        - {kind: full_ft}
      variants:
        - {type: lora, rank: [1, 2], alpha: 4}
      """;
  static final int KILLS = 10;

  @TempDir Path tmp;

  @Test
  void sweepsKilledAtRandomPointsResumeToTheUninterruptedResults() throws Exception {
    AdapterRegistry registry = AdapterRegistry.discover();
    SweepConfig cfg = SweepConfig.parse(YAML);
    Path once = tmp.resolve("once");
    long t0 = System.nanoTime();
    SweepRunner.Outcome full =
        new SweepRunner(registry, new PrintStream(java.io.OutputStream.nullOutputStream())).run(cfg, once, 0, 1);
    double trialMillis = (System.nanoTime() - t0) / 1e6 / full.ran();

    Path yaml = tmp.resolve("sweep.yaml");
    Files.writeString(yaml, YAML);
    Path killed = tmp.resolve("killed");
    Random random = new Random(16);
    int kills = 0;
    int exit = -1;
    for (int attempt = 0; attempt < 40 && exit != 0; attempt++) {
      Process p = sweep(yaml, killed);
      CountDownLatch started = new CountDownLatch(1);
      Thread reader = drain(p, started);
      boolean trialRunning = started.await(120, TimeUnit.SECONDS);
      // a kill anywhere from the first trial's start to a little over one trial later: training,
      // evaluation, adapter save or trial record
      long delay = (long) (random.nextDouble() * 1.2 * trialMillis);
      if (kills < KILLS && trialRunning && !p.waitFor(delay, TimeUnit.MILLISECONDS)) {
        p.destroyForcibly(); // SIGKILL: no shutdown hook, no finally block runs
        p.waitFor();
        kills++;
      } else {
        exit = p.waitFor(300, TimeUnit.SECONDS) ? p.exitValue() : -2;
      }
      reader.join();
    }
    assertThat(kills).isEqualTo(KILLS);
    assertThat(exit).as("the last rerun finishes").isZero();

    ObjectMapper m = new ObjectMapper();
    List<String> planned = SweepPlan.of(cfg, registry).trials().stream().map(TrialSpec::id).sorted().toList();
    List<String> ids = new ArrayList<>();
    try (Stream<Path> s = Files.walk(killed)) {
      for (Path f : (Iterable<Path>) s::iterator) {
        assertThat(f.getFileName().toString()).as("no temporary file survives").doesNotEndWith(".tmp");
        assertThat(f.getFileName().toString()).as("no checkpoint survives").isNotEqualTo("training_state.safetensors");
        if (f.getParent().getFileName().toString().equals("trials")) {
          ids.add(f.getFileName().toString().replace(".json", ""));
          assertThat(m.readTree(f.toFile()).path("status").asText()).isEqualTo("ok");
          assertThat(m.readTree(f.toFile()).path("loss_curve"))
              .isEqualTo(m.readTree(once.resolve("trials").resolve(f.getFileName()).toFile()).path("loss_curve"));
        }
      }
    }
    assertThat(ids.stream().sorted().toList()).isEqualTo(planned);
    Report.generate(once);
    assertThat(SweepRunnerTest.metrics(m.readTree(killed.resolve("summary.json").toFile())))
        .isEqualTo(SweepRunnerTest.metrics(m.readTree(once.resolve("summary.json").toFile())));
  }

  /** {@code lora sweep YAML --out DIR} in a JVM of its own, on this test's class path. */
  private static Process sweep(Path yaml, Path out) throws Exception {
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    String cp = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
    return new ProcessBuilder(java, "-Xmx1g", "--add-modules", "jdk.incubator.vector",
        "-Dorg.nd4j.log.initialization=false", "-cp", cp, "dev.loraj.bench.cli.LoraCli",
        "sweep", yaml.toString(), "--out", out.toString())
        .redirectErrorStream(true)
        .start();
  }

  /** Reads the process's output to its end; counts down once a trial has started. */
  private static Thread drain(Process p, CountDownLatch trialStarted) {
    Thread t = new Thread(() -> {
      try (BufferedReader r = new BufferedReader(
          new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
        for (String line; (line = r.readLine()) != null; ) {
          if (line.startsWith("trial ")) {
            trialStarted.countDown();
          }
        }
      } catch (java.io.IOException e) {
        // the process was killed: its output ends here
      } finally {
        trialStarted.countDown();
      }
    }, "sweep-output");
    t.start();
    return t;
  }
}
