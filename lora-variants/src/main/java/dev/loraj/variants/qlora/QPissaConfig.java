package dev.loraj.variants.qlora;

import dev.loraj.core.adapter.BiasMode;
import dev.loraj.core.quant.QuantFormat;
import dev.loraj.core.quant.QuantizedWeight;

/**
 * QPiSSA's config (PiSSA arXiv 2404.02948, section 4): PiSSA's principal-SVD init with the
 * residual stored quantized.
 *
 * @param rank r; 64
 * @param alpha scaling numerator; 64, i.e. alpha = r as in the PiSSA paper (s = 1)
 * @param dropout on the adapter input; 0 keeps training deterministic
 * @param useRslora {@code s = alpha / sqrt(r)} instead of {@code alpha / r}
 * @param bias which base biases train with the adapter
 * @param format element format of the residual; NF4
 * @param blockSize elements per absmax block; 64
 * @param doubleQuant quantize the absmax values too; on, as QLoRA's base
 */
public record QPissaConfig(
    int rank, double alpha, double dropout, boolean useRslora, BiasMode bias,
    QuantFormat format, int blockSize, boolean doubleQuant)
    implements QuantizedLoraConfig {

  public QPissaConfig {
    QuantizedLoraConfig.check(rank, alpha, dropout, format, blockSize);
    bias = bias == null ? BiasMode.NONE : bias;
  }

  public static QPissaConfig defaults() {
    return new QPissaConfig(64, 64, 0.0, false, BiasMode.NONE, QuantFormat.NF4,
        QuantizedWeight.DEFAULT_BLOCK_SIZE, true);
  }

  @Override
  public QPissaConfig withRankAndAlpha(int rank, double alpha) {
    return new QPissaConfig(rank, alpha, dropout, useRslora, bias, format, blockSize, doubleQuant);
  }
}
