package dev.loraj.variants.qlora;

import dev.loraj.core.adapter.BiasMode;
import dev.loraj.core.lora.LoraConfig;
import dev.loraj.core.quant.QuantFormat;
import dev.loraj.core.quant.QuantizedWeight;

/**
 * QLoRA's config: LoRA's fields plus the base quantization (QLoRA arXiv 2305.14314).
 *
 * @param rank r; the paper's 64 (appendix B: r = 64 for all its runs)
 * @param alpha scaling numerator; the paper's 16 (s = 0.25 at r = 64)
 * @param dropout on the adapter input; the paper uses 0.1 (up to 13B) or 0.05 (33B/65B); the
 *     default 0 keeps training deterministic, as {@link LoraConfig}
 * @param useRslora {@code s = alpha / sqrt(r)} instead of {@code alpha / r}
 * @param init how A is drawn (B = 0: the output equals the quantized base's at init)
 * @param bias which base biases train with the adapter
 * @param format element format of the base; NF4, the paper's data type
 * @param blockSize elements per absmax block; 64, the paper's and bitsandbytes' default
 * @param doubleQuant quantize the absmax values too (paper section 3); on, as in the paper
 */
public record QLoraConfig(
    int rank, double alpha, double dropout, boolean useRslora, LoraConfig.Init init,
    BiasMode bias, QuantFormat format, int blockSize, boolean doubleQuant)
    implements QuantizedLoraConfig {

  public QLoraConfig {
    QuantizedLoraConfig.check(rank, alpha, dropout, format, blockSize);
    init = init == null ? LoraConfig.Init.KAIMING : init;
    bias = bias == null ? BiasMode.NONE : bias;
  }

  /** The paper's settings: r = 64, alpha = 16, NF4, block 64, double quantization. */
  public static QLoraConfig defaults() {
    return new QLoraConfig(64, 16, 0.0, false, LoraConfig.Init.KAIMING, BiasMode.NONE,
        QuantFormat.NF4, QuantizedWeight.DEFAULT_BLOCK_SIZE, true);
  }

  @Override
  public QLoraConfig withRankAndAlpha(int rank, double alpha) {
    return new QLoraConfig(rank, alpha, dropout, useRslora, init, bias, format, blockSize, doubleQuant);
  }

  public QLoraConfig withQuantization(QuantFormat format, int blockSize, boolean doubleQuant) {
    return new QLoraConfig(rank, alpha, dropout, useRslora, init, bias, format, blockSize, doubleQuant);
  }
}
