package dev.loraj.bench.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ContinualCommandTest {

  private static final String CONFIG = """
      name: tiny
      sequence: {kind: synthetic, tasks: 3, width: 12, classes: 2, shift_rank: 2, test_examples: 60, seed: 0}
      train: {steps: 6, batch_size: 8, learning_rate: 1.0e-2}
      adapter: {rank: 2, alpha: 4, target_modules: all-linear}
      o_lora: {lambda1: 0.5, lambda2: 0.0, penalty: squared}
      am_lora: {l1: 0.01}
      methods: [seq-lora, o-lora]
      seeds: [1, 2]
      orders: [[0, 1, 2]]
      """;

  @Test
  void writesRunFilesAsItGoesAndAResumeTrainsNothingTwice(@TempDir Path dir) throws Exception {
    Path config = Files.writeString(dir.resolve("c.yaml"), CONFIG);
    Path out = dir.resolve("out");
    String first = CliTest.run("continual", "--config", config.toString(), "--out", out.toString());
    assertThat(first).contains("[1/4] seq-lora", "[4/4] o-lora", "| method | runs | AA | BWT | forgetting |");
    assertThat(out.resolve("runs/seq-lora-order-0-1-2-seed1.json")).exists();
    assertThat(out.resolve("runs/o-lora-order-0-1-2-seed2.json")).exists();
    assertThat(out.resolve("continual.md")).exists();
    assertThat(out.resolve("heatmap-o-lora-order0.png")).exists();
    String table = Files.readString(out.resolve("continual.csv"));
    assertThat(Files.readString(out.resolve("continual.md"))).contains("git_revision", "\"config\"");
    assertThat(out.resolve("provenance.json")).exists();

    // a killed comparison: one run file lost; the rerun trains only that one and the table is the same
    Files.delete(out.resolve("runs/o-lora-order-0-1-2-seed2.json"));
    String second = CliTest.run("continual", "--config", config.toString(), "--out", out.toString());
    assertThat(second).contains("[1/4] seq-lora").contains("already done");
    assertThat(second.lines().filter(l -> l.contains("already done"))).hasSize(3);
    assertThat(Files.readString(out.resolve("continual.csv"))).isEqualTo(table);
    try (var files = Files.list(out.resolve("runs"))) {
      assertThat(files.filter(f -> f.getFileName().toString().endsWith(".tmp"))).isEmpty();
    }
  }

  @Test
  void refusesToMixTwoConfigurationsInOneDirectory(@TempDir Path dir) throws Exception {
    Path out = dir.resolve("out");
    Path a = Files.writeString(dir.resolve("a.yaml"), CONFIG.replace("seeds: [1, 2]", "seeds: [1]"));
    CliTest.run("continual", "--config", a.toString(), "--out", out.toString());
    // more seeds: the same setup, the finished run is reused
    Path more = Files.writeString(dir.resolve("more.yaml"), CONFIG);
    assertThat(CliTest.run("continual", "--config", more.toString(), "--out", out.toString())
        .lines().filter(l -> l.contains("already done"))).hasSize(2);
    Path b = Files.writeString(dir.resolve("b.yaml"), CONFIG.replace("steps: 6", "steps: 7"));
    int rc = LoraCli.commandLine().execute("continual", "--config", b.toString(), "--out", out.toString());
    assertThat(rc).isNotZero();
  }
}
