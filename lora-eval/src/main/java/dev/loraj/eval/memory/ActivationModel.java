package dev.loraj.eval.memory;

/**
 * Activation memory of one training step, after Korthikanti et al. 2022, "Reducing Activation
 * Recomputation in Large Transformer Models" (arXiv 2205.05198), section 4.1: one transformer
 * layer without parallelism stores {@code s b h (34 + 5 a s / h)} bytes with 16-bit activations
 * and 1-byte dropout masks (sequence s, micro-batch b, hidden h, heads a). Decomposed into
 * elements, so other widths and architectures follow the same derivation:
 *
 * <pre>
 *   attention  5 sbh (QKV input, Q, K, V, output-projection input) + a s^2 b (softmax output)
 *              + a s^2 b (dropout output, with dropout)
 *   MLP        sbh (input) + 2 s b i (GELU input and output);   SwiGLU (LLaMA): sbh + 4 s b i
 *              (gate and up outputs, silu(gate), the product entering down_proj)
 *   norms      2 sbh (inputs of the two LayerNorms / RMSNorms)
 *   masks      2 sbh + a s^2 b bytes (with dropout)
 * </pre>
 *
 * With 2-byte elements, i = 4h and dropout this is exactly Korthikanti's {@code 34 sbh + 5 a s^2 b}.
 * With full recomputation (gradient checkpointing of every layer, the paper's "full activation
 * recomputation", {@code 2 sbhL}) only each layer's input is kept, plus the one layer being
 * recomputed during its backward pass. Adapters add their low-rank intermediate {@code A x}
 * ({@code s b r} elements per adapted site). Decoders add the fp32 logits of the language-model
 * loss and their gradient, {@code 2 x 4 B x b s V}, or, when the head is frozen,
 * the few [b s, h] arrays of the chunked loss ({@link #fusedHeadBytes}). Attention kernels that do not store the
 * {@code s x s} scores (FlashAttention) remove the {@code a s^2 b} terms; this estimate keeps them.
 */
public final class ActivationModel {
  private ActivationModel() {}

  /** Bytes one layer stores for its backward pass. */
  public static long perLayerBytes(ModelShape m, long batch, long seq, Precision act) {
    long sbh = seq * batch * m.hidden();
    long sbi = seq * batch * m.intermediate();
    long as2b = (long) m.heads() * seq * seq * batch;
    long values = 5 * sbh + as2b + (m.dropout() ? as2b : 0)
        + (m.gatedMlp() ? sbh + 4 * sbi : sbh + 2 * sbi)
        + 2 * sbh;
    long masks = m.dropout() ? 2 * sbh + as2b : 0;
    return values * act.bytes() + masks;
  }

  /** Bytes of the whole stack (no recomputation, or full recomputation), without adapters and logits. */
  public static long stackBytes(ModelShape m, long batch, long seq, Precision act, boolean checkpointing) {
    long layer = perLayerBytes(m, batch, seq, act);
    if (!checkpointing) {
      return m.layers() * layer;
    }
    return m.layers() * seq * batch * m.hidden() * act.bytes() + layer;
  }

  /**
   * fp32 logits and their gradient of a language-model loss over every position: the two
   * [batch * seq, vocab] arrays of {@code Objective.tokenCrossEntropy()}, which reads label ids
   * and writes the gradient in one op (a one-hot objective adds its label rows and, without the
   * fused kernel, its log-softmax).
   */
  public static long logitsBytes(ModelShape m, long batch, long seq) {
    return 2L * 4 * batch * seq * m.vocab();
  }

  /**
   * What the loss of a frozen language-model head holds instead of {@link #logitsBytes}
   * ({@code LmHeadCrossEntropy}: the logits are computed a vocabulary chunk at a time and never
   * kept): its fp32 output (the loss and dL/dh, {@code b s h + 1} floats), that output's gradient
   * and dL/dh again as the hidden states' gradient, {@code 3 x 4 B x b s h}, plus one chunk of
   * logits, {@code 4 B x b s x chunkRows}.
   */
  public static long fusedHeadBytes(ModelShape m, long batch, long seq, int chunkRows) {
    long rows = batch * seq;
    return 3L * 4 * (rows * m.hidden() + 1) + 4L * rows * Math.min(chunkRows, m.vocab());
  }

  /** One line stating the formula, for reports. */
  public static String formula(boolean checkpointing) {
    return checkpointing
        ? "full recomputation (Korthikanti et al. 2022, arXiv 2205.05198): L x s b h x e (layer inputs)"
            + " + one layer's activations recomputed in its backward"
        : "no recomputation (Korthikanti et al. 2022, arXiv 2205.05198, sec. 4.1): per layer"
            + " s b h (34 + 5 a s / h) bytes at 2-byte elements with dropout, generalized to other"
            + " widths, SwiGLU and no dropout";
  }
}
