package dev.loraj.bench.memory;

import static org.assertj.core.api.Assertions.assertThat;

import dev.loraj.eval.reproduce.ReproductionResult;
import dev.loraj.eval.reproduce.Reproductions;
import dev.loraj.eval.reproduce.Status;
import org.junit.jupiter.api.Test;

/** A real (tiny) MiniLM trial through the sweep harness; the error is reported, not asserted small. */
class MeasuredMemoryCheckTest {

  @Test
  void quickRunStatesEstimateMeasuredAndError() throws Exception {
    ReproductionResult r = Reproductions.run(BenchReproductions.get("memory-vs-measured"), true);
    r.checks().forEach(c -> System.out.println(c.quantity() + " | " + c.ours() + " | " + c.status() + " | " + c.note()));
    assertThat(r.status()).isIn(Status.PASS, Status.DIFFERS);
    assertThat(r.checks()).isNotEmpty().allSatisfy(c -> {
      assertThat(c.ours()).contains("estimate", "measured off-heap", "off-heap / estimate - 1 =")
          .doesNotContain("NaN");
      if (c.status() != Status.PASS) {
        assertThat(c.note()).contains("SameDiff");
      }
    });
    assertThat(BenchReproductions.ids()).contains("memory-vs-measured", "qlora-65b-48gb", "lora-gpt3-vram");
  }
}
