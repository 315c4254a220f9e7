package dev.loraj.variants.qlora;

import dev.loraj.core.adapter.AdapterConfig;
import dev.loraj.core.lora.LoraConfig;
import dev.loraj.core.quant.QuantFormat;

/**
 * What the quantized-base variants ({@code qlora}, {@code loftq}, {@code qpissa}) share: a LoRA
 * update {@code s B A} on a frozen base stored block-wise quantized (QLoRA arXiv 2305.14314,
 * section 3).
 */
public interface QuantizedLoraConfig extends AdapterConfig {

  double dropout();

  boolean useRslora();

  /** Element format of the base; QLoRA's NF4 by default. */
  QuantFormat format();

  /** Elements per absmax block; QLoRA's and bitsandbytes' 64 by default. */
  int blockSize();

  /** Quantize the block absmax values again (8 bits, blocks of 256): 0.127 instead of 0.5 bits. */
  boolean doubleQuant();

  /** {@code alpha / r}, or {@code alpha / sqrt(r)} with rsLoRA. */
  default double scaling() {
    return LoraConfig.scaling(rank(), alpha(), useRslora());
  }

  /**
   * How to read a checkpoint for an adapter of {@code spec}: a {@code qlora} adapter's sites are
   * quantized while they are read ({@code HfModels.load(dir, dtype, quantizeOnLoad)}), so the
   * float32 model never exists and the adapter keeps those weights. Empty for every other
   * adapter, {@code loftq} and {@code qpissa} included: they initialise from the unquantized
   * weight, which they read from the base one site at a time (a 16-bit base keeps that at 2
   * bytes a parameter).
   */
  static java.util.Optional<dev.loraj.core.model.QuantizeOnLoad> quantizeOnLoad(
      dev.loraj.core.adapter.AdapterSpec spec) {
    if (spec.config() instanceof QLoraConfig q) {
      return java.util.Optional.of(new dev.loraj.core.model.QuantizeOnLoad(spec.targets(),
          q.format(), q.blockSize(), q.doubleQuant()));
    }
    return java.util.Optional.empty();
  }

  /** The checks every quantized-base config runs in its compact constructor. */
  static void check(int rank, double alpha, double dropout, QuantFormat format, int blockSize) {
    LoraConfig.checkRankAlpha(rank, alpha);
    if (!(dropout >= 0 && dropout < 1)) {
      throw new IllegalArgumentException("dropout = " + dropout + ": must be in [0, 1)");
    }
    if (format == null || !format.blockwise()) {
      throw new IllegalArgumentException("format = " + (format == null ? "null" : format.json())
          + ": accepted nf4, fp4, int4, int8");
    }
    if (blockSize < 1) {
      throw new IllegalArgumentException("block_size = " + blockSize
          + ": must be a positive number of elements (bitsandbytes: 64 to 4096)");
    }
  }
}
