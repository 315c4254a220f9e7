package dev.loraj.bench.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ReproduceCommandTest {

  @Test
  void listShowsEveryReproductionWithClaimAndSourceIncludingPlannedOnes() {
    String out = CliTest.run("reproduce", "--list");
    assertThat(out).contains("lora-table2-4-params", "qlora-nf4-codebook", "rslora-rank-scaling",
        "lora-subspace-similarity", "claim:", "source:", "arXiv 2106.09685",
        "pissa-convergence", "qpissa-vs-loftq", "olora-forgetting", "adalora-vs-lora", "lora-gpt3-vram",
        "qlora-65b-48gb", "memory-vs-measured");
  }

  @Test
  void oneQuickRunPrintsItsChecks() {
    String out = CliTest.run("reproduce", "qlora-nf4-error", "--quick");
    assertThat(out).contains("qlora-nf4-error", "pass", "NF4 error < FP4 error", "| quantity | paper | ours |");
  }

  @Test
  void oneExactRunShowsTheGpt2Discrepancy() {
    String out = CliTest.run("reproduce", "lora-table2-4-params");
    assertThat(out).contains("differs (explained)", "393,216", "issue #172");
  }

  @Test
  void allQuickWritesMarkdownAndJson(@TempDir Path dir) throws Exception {
    String out = CliTest.run("reproduce", "--all", "--quick", "--out", dir.toString());
    assertThat(out).contains("wrote", "rslora-rank-scaling").doesNotContain(" fail ");
    assertThat(Files.readString(dir.resolve("reproductions.md")))
        .contains("# Reproductions", "| id | reproduction | source | kind | status | time |", "## pissa-convergence",
            "## memory-vs-measured");
    assertThat(Files.readString(dir.resolve("reproductions.json"))).contains("\"reproductions\"");
  }
}
