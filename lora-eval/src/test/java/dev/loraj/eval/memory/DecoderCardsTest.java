package dev.loraj.eval.memory;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The grouped-query decoder cards add up to the parameter counts of the published checkpoints
 * (the sums of their safetensors tensors: Qwen/Qwen2.5-0.5B, meta-llama/Llama-3.2-1B, -3B,
 * Llama-3.1-8B), which also checks the key/value widths, tied embeddings and Qwen2's biases.
 */
class DecoderCardsTest {

  @ParameterizedTest
  @CsvSource({
      "qwen2.5-0.5b, 494032768",
      "llama-3.2-1b, 1235814400",
      "llama-3.2-3b, 3212749824",
      "llama-3.1-8b, 8030261248"})
  void totalsEqualThePublishedCheckpoints(String card, long total) throws Exception {
    assertThat(ModelShape.of(card).totalParams()).isEqualTo(total);
  }
}
