package dev.loraj.eval.reproduce;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.loraj.core.lora.Fill;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

class ReproductionsTest {

  static ReproductionResult run(String id) throws Exception {
    ReproductionResult r = Reproductions.run(Reproductions.get(id), true);
    r.checks().forEach(c -> System.out.printf("%s | %s | %s | %s | %s%n", c.quantity(), c.paper(),
        c.ours(), c.status(), c.note()));
    return r;
  }

  static Status status(ReproductionResult r, String quantityPrefix) {
    return r.checks().stream().filter(c -> c.quantity().startsWith(quantityPrefix)).findFirst()
        .orElseThrow(() -> new AssertionError("no check " + quantityPrefix)).status();
  }

  @Test
  void loraTables2to4MatchExceptTheGpt2RowsWhichDifferWithAnExplanation() throws Exception {
    ReproductionResult r = run("lora-table2-4-params");
    assertThat(status(r, "Table 2 RoBERTa-base")).isEqualTo(Status.PASS);
    assertThat(status(r, "Table 2 RoBERTa-large")).isEqualTo(Status.PASS);
    assertThat(status(r, "Table 2 DeBERTa XXL")).isEqualTo(Status.PASS);
    assertThat(status(r, "Table 4 GPT-3 175B, W_q W_v, r = 1")).isEqualTo(Status.PASS);
    assertThat(status(r, "Table 4 GPT-3 175B, W_q W_v, r = 8")).isEqualTo(Status.PASS);
    // GPT-2 M: r = 4 on W_q, W_v gives 393,216 (0.39M), the paper prints 0.35M (issue #172)
    assertThat(status(r, "Table 3 GPT-2 M")).isEqualTo(Status.DIFFERS);
    assertThat(r.checks()).anySatisfy(c -> assertThat(c.ours()).startsWith("393,216"));
    assertThat(status(r, "Table 3 GPT-2 L")).isEqualTo(Status.DIFFERS);
    assertThat(r.checks()).anySatisfy(c -> assertThat(c.ours()).startsWith("737,280"));
    assertThat(r.status()).isEqualTo(Status.DIFFERS);
  }

  @Test
  void table5ColumnsAreEqualAndTruncateTo18M() throws Exception {
    ReproductionResult r = run("lora-table5-budget");
    assertThat(r.checks()).hasSize(7).allSatisfy(c -> {
      assertThat(c.ours()).startsWith("18,874,368");
      assertThat(c.status()).isIn(Status.PASS, Status.DIFFERS);
    });
  }

  @Test
  void checkpointSizeAndAdaLoraBudgetsPass() throws Exception {
    assertThat(run("lora-checkpoint-size").status()).isEqualTo(Status.PASS);
    ReproductionResult ada = run("adalora-table1-lora-budgets");
    assertThat(ada.status()).isEqualTo(Status.PASS);
    assertThat(ada.checks().get(0).ours()).startsWith("1,327,104");
    assertThat(ada.checks().get(1).ours()).startsWith("331,776");
  }

  @Test
  void nf4CodebookAndDoubleQuantizationPass() throws Exception {
    assertThat(run("qlora-nf4-codebook").status()).isEqualTo(Status.PASS);
    assertThat(run("qlora-double-quant-bits").status()).isEqualTo(Status.PASS);
  }

  @Test
  void nf4ConstructionMatchesThePublishedValues() {
    float[] built = Nf4Codebook.construct();
    for (int i = 0; i < 16; i++) {
      assertThat((double) built[i]).as("q_%d", i).isCloseTo(Nf4Codebook.PAPER[i],
          org.assertj.core.data.Offset.offset(1e-6));
    }
  }

  @Test
  void nf4HasTheLowestErrorOnNormalWeights() throws Exception {
    assertThat(run("qlora-nf4-error").status()).isEqualTo(Status.PASS);
  }

  @Test
  void subspaceSimilarityIsOneForIdenticalAndLowForUnrelatedSubspaces() {
    INDArray q = Nd4j.eye(32).getRows(0, 1, 2, 3); // [4, 32] orthonormal rows
    assertThat(LoraSubspaceSimilarity.phi(q, q, 4, 4)).isCloseTo(1.0, org.assertj.core.data.Offset.offset(1e-6));
    INDArray other = Nd4j.eye(32).getRows(4, 5, 6, 7);
    assertThat(LoraSubspaceSimilarity.phi(q, other, 4, 4)).isCloseTo(0.0, org.assertj.core.data.Offset.offset(1e-6));
    INDArray g = Fill.normal(new long[] {4, 32}, 1.0, new SplittableRandom(1));
    assertThat(LoraSubspaceSimilarity.phi(q, g.div(g.norm2(1).reshape(4, 1)), 1, 1)).isBetween(0.0, 1.0);
  }

  @Test
  void roundingReadsThePrintedDigits() {
    assertThat(Counts.roundsTo(294_912, "0.3")).isTrue();
    assertThat(Counts.roundsTo(393_216, "0.35")).isFalse();
    assertThat(Counts.roundsTo(18_874_368, "18")).isFalse();
    assertThat(Counts.roundingTolerance("0.35")).contains("0.005M");
  }

  @Test
  void idsAreUniqueAndPlannedEntriesStateTheirSource() throws Exception {
    assertThat(new HashSet<>(Reproductions.ids())).hasSameSizeAs(Reproductions.ids());
    assertThat(Reproductions.ids()).contains("pissa-convergence", "qpissa-vs-loftq", "olora-forgetting",
        "adalora-vs-lora", "lora-gpt3-vram", "qlora-65b-48gb");
    ReproductionResult planned = Reproductions.run(new Planned("p", "t", "PiSSA, arXiv 2404.02948", "c"), true);
    assertThat(planned.status()).isEqualTo(Status.NOT_IMPLEMENTED);
    assertThat(planned.source()).contains("2404.02948");
    assertThat(Reproductions.all()).filteredOn(r -> !r.implemented())
        .allSatisfy(r -> assertThat(r.source()).contains("arXiv"));
    assertThatThrownBy(() -> Reproductions.get("nope")).hasMessageContaining("no reproduction 'nope'")
        .hasMessageContaining("lora-table2-4-params");
  }

  @Test
  void reportHasASummaryTableAndOneSectionEach() throws Exception {
    List<ReproductionResult> rs = List.of(run("lora-checkpoint-size"),
        Reproductions.run(new Planned("planned-one", "t", "s", "c"), true));
    String md = ReproductionReport.markdown(rs, Map.of("mode", "quick"));
    assertThat(md).contains("| id | reproduction | source | kind | status | time |", "## lora-checkpoint-size",
        "| full model, fp16 | 350GB |", "not yet implemented");
    assertThat(ReproductionReport.json(rs, Map.of())).contains("\"status\" : \"PASS\"");
    // the file says how to regenerate it, before anything else
    assertThat(ReproductionReport.markdown(rs, Map.of(), "./lora reproduce --all --out docs"))
        .startsWith("# Reproductions\n\nGenerated by `./lora reproduce --all --out docs`");
  }
}
