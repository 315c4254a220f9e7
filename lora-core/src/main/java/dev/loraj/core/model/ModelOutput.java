package dev.loraj.core.model;

import dev.loraj.core.quant.QuantizedWeight;
import java.util.List;
import java.util.Objects;
import org.nd4j.autodiff.samediff.SDVariable;

/**
 * The result of {@link BaseModel#build}: the output variable ([batch, classes] logits, or
 * [batch * seq, vocab] for a causal LM), the names of the placeholders the model reads, and,
 * for a causal LM whose head weight is frozen, the head that computes those logits
 * ({@code null} otherwise), so that a loss can be computed without them.
 */
public record ModelOutput(SDVariable output, List<String> inputs, FrozenHead head) {

  public ModelOutput {
    Objects.requireNonNull(output, "output");
    inputs = List.copyOf(inputs);
  }

  /** An output without a head description. */
  public ModelOutput(SDVariable output, List<String> inputs) {
    this(output, inputs, null);
  }

  /**
   * A frozen language-model head: {@code output = hidden W^T} for final hidden states
   * {@code hidden} [rows, e] and W [vocab, e], held either as {@code held} (a 16-bit or quantized
   * table) or as the float32 constant {@code weight}; exactly one of the two is given.
   */
  public record FrozenHead(SDVariable hidden, QuantizedWeight held, SDVariable weight) {
    public FrozenHead {
      Objects.requireNonNull(hidden, "hidden");
      if ((held == null) == (weight == null)) {
        throw new IllegalArgumentException("frozen head: held " + (held == null ? "absent" : "given")
            + ", weight " + (weight == null ? "absent" : "given") + "; exactly one of the two is accepted");
      }
    }
  }
}
