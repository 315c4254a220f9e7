package dev.loraj.eval.reproduce;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * The quick mode of each measured reproduction of issue 10 runs and reports honestly: a status
 * that is pass or differs-with-explanation (never asserted to pass: a claim may not hold at this
 * scale), finite figures, and a note on every check that does not pass.
 */
class MeasuredReproductionsTest {

  private static final Pattern NUMBER = Pattern.compile("-?\\d+(\\.\\d+)?(e-?\\d+)?");

  static ReproductionResult runQuick(String id) throws Exception {
    ReproductionResult r = ReproductionsTest.run(id);
    assertThat(r.quick()).isTrue();
    assertThat(r.method()).isNotBlank();
    assertThat(r.status()).isIn(Status.PASS, Status.DIFFERS);
    assertThat(r.checks()).isNotEmpty().allSatisfy(c -> {
      assertThat(c.ours()).doesNotContain("NaN").doesNotContain("Infinity");
      Matcher m = NUMBER.matcher(c.ours());
      assertThat(m.find()).as("figures in '%s'", c.ours()).isTrue();
      if (c.status() != Status.PASS) {
        assertThat(c.note()).as("explanation of '%s'", c.quantity()).isNotBlank();
      }
    });
    return r;
  }

  @Test
  void pissaConvergenceReportsBothTheAlignedAndTheAdverseTask() throws Exception {
    ReproductionResult r = runQuick("pissa-convergence");
    assertThat(r.checks()).hasSize(2);
    assertThat(r.checks().get(0).quantity()).startsWith("aligned task");
    assertThat(r.checks().get(1).quantity()).startsWith("random low-rank shift");
    assertThat(r.checks().get(1).note()).contains("floor");
  }

  @Test
  void qpissaVsLoftqMeasuresRatiosOnRealMiniLmWeights() throws Exception {
    ReproductionResult r = runQuick("qpissa-vs-loftq");
    assertThat(r.checks()).hasSize(4);
    assertThat(r.checks().get(0).ours()).startsWith("QLoRA 0.000");
    assertThat(r.checks()).allSatisfy(c -> assertThat(c.note()).contains("matrices"));
  }

  @Test
  void oloraForgettingComparesBwtAndAaWithTheirSpread() throws Exception {
    ReproductionResult r = runQuick("olora-forgetting");
    assertThat(r.checks()).extracting(Check::quantity).anyMatch(q -> q.startsWith("BWT"))
        .anyMatch(q -> q.startsWith("AA"));
    assertThat(r.checks()).allSatisfy(c -> assertThat(c.note()).contains("spread"));
  }

  @Test
  void adaloraVsLoraAtEqualFinalBudget() throws Exception {
    ReproductionResult r = runQuick("adalora-vs-lora");
    assertThat(r.checks()).hasSize(1);
    assertThat(r.checks().get(0).quantity()).contains("budget 4 triplets");
  }

  @Test
  void memoryStatementsOfQloraAndLoraPassUnderTheirNamedAssumptions() throws Exception {
    ReproductionResult q = ReproductionsTest.run("qlora-65b-48gb");
    assertThat(q.status()).isEqualTo(Status.PASS);
    assertThat(q.method()).contains("batch 1", "sequence 512", "gradient checkpointing");
    ReproductionResult l = ReproductionsTest.run("lora-gpt3-vram");
    assertThat(l.status()).isEqualTo(Status.PASS);
    assertThat(l.checks().get(0).ours()).startsWith("18,874,368");
  }
}
