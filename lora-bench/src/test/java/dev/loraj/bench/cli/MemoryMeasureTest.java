package dev.loraj.bench.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.loraj.core.io.SafetensorsDtype;
import dev.loraj.core.model.ArchitectureCards;
import dev.loraj.core.model.SyntheticCheckpoint;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code lora memory --measure} on a decoder directory written by the synthetic-checkpoint writer. */
class MemoryMeasureTest {

  @TempDir static Path tmp;
  static Path f32;

  /** Qwen2's structure (grouped-query attention, q/k/v biases, tied head) at a tiny size. */
  static final ArchitectureCards.Card TINY =
      new ArchitectureCards.Card("tiny-qwen", "llama", 2, 64, 128, 4, 320, 2, 16, true, true);

  static Path bf16;

  @BeforeAll
  static void writeModels() throws Exception {
    f32 = tmp.resolve("f32");
    bf16 = tmp.resolve("bf16");
    for (Path p : new Path[] {f32, bf16}) {
      SafetensorsDtype d = p == f32 ? SafetensorsDtype.F32 : SafetensorsDtype.BF16;
      SyntheticCheckpoint.write(SyntheticCheckpoint.config(TINY, SyntheticCheckpoint.Release.QWEN_2_5, d), d, p, 1,
          SyntheticCheckpoint.DEFAULT_SHARD_BYTES);
    }
  }

  @Test
  void aBf16CheckpointKeepsItsLinearWeightsIn16BitsUnlessAskedForF32() throws Exception {
    String out = CliTest.run("memory", "--model", bf16.toString(), "--variant", "lora", "--base-dtype", "auto,f32",
        "--rank", "2", "--targets", "all-linear", "--batch", "1", "--seq", "4", "--steps", "1", "--measure",
        "--in-process", "--json");
    JsonNode rows = new ObjectMapper().readTree(out);
    assertThat(rows).hasSize(2);
    assertThat(rows.get(0).path("base_dtype").asText()).isEqualTo("bf16");
    assertThat(rows.get(1).path("base_dtype").asText()).isEqualTo("f32");
    long linear = TINY.sites().stream().mapToLong(s -> (long) s.in() * s.out()).sum();
    long table = (long) TINY.vocab() * TINY.hidden();
    // the 16-bit linear weights and the token-embedding table are held in 2 bytes a parameter,
    // the rest (norms, biases) stays float32
    JsonNode held = rows.get(0).path("measured");
    JsonNode wide = rows.get(1).path("measured");
    assertThat(held.path("frozen").asLong() + held.path("quantized").asLong())
        .isEqualTo(wide.path("frozen").asLong() + wide.path("quantized").asLong() - 2 * (linear + table));
    assertThat(rows.get(0).path("estimate").path("frozen").asLong())
        .isEqualTo(rows.get(1).path("estimate").path("frozen").asLong() - 2 * (linear + table));
  }

  @Test
  void measuresLoraQloraAndFullFineTuningOfADecoder() throws Exception {
    String out = CliTest.run("memory", "--model", f32.toString(), "--variant", "lora,qlora,full", "--rank", "4",
        "--targets", "all-linear", "--batch", "1", "--seq", "8", "--steps", "3", "--measure", "--in-process", "--json");
    JsonNode rows = new ObjectMapper().readTree(out);
    assertThat(rows).hasSize(3);
    JsonNode lora = rows.get(0);
    JsonNode qlora = rows.get(1);
    JsonNode full = rows.get(2);
    assertThat(lora.path("base_dtype").asText()).isEqualTo("f32");
    for (JsonNode r : rows) {
      JsonNode m = r.path("measured");
      assertThat(m.path("total").asLong()).isPositive();
      assertThat(m.path("peak_rss").asLong()).isGreaterThanOrEqualTo(m.path("rss_after_load").asLong());
      assertThat(m.path("peak_rss_over_loaded").asLong())
          .isEqualTo(m.path("peak_rss").asLong() - m.path("rss_after_load").asLong());
      assertThat(r.path("step_seconds")).hasSize(3);
      assertThat(r.path("estimate").path("total").asLong()).isPositive();
    }
    // the NF4 base replaces the dense linear weights; full fine-tuning holds Adam's moments of everything
    assertThat(qlora.path("measured").path("quantized").asLong()).isPositive();
    assertThat(qlora.path("measured").path("frozen").asLong()).isLessThan(lora.path("measured").path("frozen").asLong());
    assertThat(full.path("measured").path("optimizer").asLong())
        .isGreaterThan(10 * lora.path("measured").path("optimizer").asLong());
    assertThat(full.path("trainable_params").asLong()).isGreaterThan(lora.path("trainable_params").asLong());
  }

  @Test
  void textOutputNamesTheBaseDtypeAndStepTime() {
    String out = CliTest.run("memory", "--model", f32.toString(), "--variant", "lora", "--rank", "2",
        "--batch", "1", "--seq", "4", "--steps", "1", "--measure", "--base-dtype", "f32");
    assertThat(out).contains("lora r=2", "base f32", "peak RSS over the loaded model", "step ");
  }

  @Test
  void checkpointingRecomputesEveryBlockAndHoldsFewerActivations() throws Exception {
    JsonNode[] rows = new JsonNode[2];
    for (int i = 0; i < 2; i++) {
      String out = CliTest.run(i == 0 ? new String[] {"memory", "--model", f32.toString(), "--variant", "lora", "--rank",
          "2", "--batch", "1", "--seq", "16", "--steps", "3", "--measure", "--json"}
          : new String[] {"memory", "--model", f32.toString(), "--variant", "lora", "--rank", "2", "--batch", "1",
              "--seq", "16", "--steps", "3", "--measure", "--json", "--checkpointing"});
      rows[i] = new ObjectMapper().readTree(out).get(0);
    }
    assertThat(rows[0].path("recomputed_blocks").asInt()).isZero();
    assertThat(rows[1].path("recomputed_blocks").asInt()).isEqualTo(TINY.layers());
    assertThat(rows[1].path("checkpointing").asBoolean()).isTrue();
    assertThat(rows[1].path("measured").path("activations").asLong())
        .isLessThan(rows[0].path("measured").path("activations").asLong());
    assertThat(rows[1].path("measured").path("peak_rss_replayed_steps").asLong()).isPositive();
  }
}
