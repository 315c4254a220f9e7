package dev.loraj.variants.qlora;

import dev.loraj.core.adapter.BiasMode;
import dev.loraj.core.quant.QuantFormat;
import dev.loraj.core.quant.QuantizedWeight;

/**
 * LoftQ's config (arXiv 2310.08659; PEFT {@code LoftQConfig}): a LoRA update and a quantized
 * base initialised together by alternating quantization and SVD.
 *
 * @param rank r; 64 as the LoftQ checkpoints published with the paper ("4bit-64rank")
 * @param alpha scaling numerator; 16 as QLoRA
 * @param dropout on the adapter input; 0 keeps training deterministic
 * @param useRslora {@code s = alpha / sqrt(r)} instead of {@code alpha / r}
 * @param bias which base biases train with the adapter
 * @param format element format of the base (PEFT's {@code loftq_bits = 4} is NF4)
 * @param blockSize elements per absmax block; 64
 * @param doubleQuant quantize the absmax values too; on, as QLoRA's base
 * @param loftqIter alternating steps T; PEFT's {@code loftq_iter} default 1 (the paper also
 *     reports T = 5)
 */
public record LoftQConfig(
    int rank, double alpha, double dropout, boolean useRslora, BiasMode bias,
    QuantFormat format, int blockSize, boolean doubleQuant, int loftqIter)
    implements QuantizedLoraConfig {

  public LoftQConfig {
    QuantizedLoraConfig.check(rank, alpha, dropout, format, blockSize);
    if (loftqIter < 1) {
      throw new IllegalArgumentException("loftq_iter = " + loftqIter + ": must be >= 1");
    }
    bias = bias == null ? BiasMode.NONE : bias;
  }

  public static LoftQConfig defaults() {
    return new LoftQConfig(64, 16, 0.0, false, BiasMode.NONE, QuantFormat.NF4,
        QuantizedWeight.DEFAULT_BLOCK_SIZE, true, 1);
  }

  @Override
  public LoftQConfig withRankAndAlpha(int rank, double alpha) {
    return new LoftQConfig(rank, alpha, dropout, useRslora, bias, format, blockSize, doubleQuant, loftqIter);
  }

  public LoftQConfig withIterations(int t) {
    return new LoftQConfig(rank, alpha, dropout, useRslora, bias, format, blockSize, doubleQuant, t);
  }
}
