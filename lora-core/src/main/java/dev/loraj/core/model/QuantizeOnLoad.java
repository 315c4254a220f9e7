package dev.loraj.core.model;

import dev.loraj.core.quant.QuantFormat;
import dev.loraj.core.quant.QuantizedWeight;
import java.util.Objects;

/**
 * Frozen linear weights to quantize while a checkpoint is read (QLoRA's base): each selected
 * weight goes from the memory-mapped file through the quantizer a block at a time, so neither
 * the model nor any one of its weights exists in float32 on the way, and the loaded model holds
 * the quantized sizes from the start. An adapter later added with the same settings (a
 * {@code qlora} adapter) keeps these weights instead of quantizing again.
 *
 * @param targets the sites to quantize (their frozen weights)
 * @param format a block-wise format (nf4, fp4, int4, int8)
 * @param blockSize elements per absmax block, >= 1
 * @param doubleQuant whether the block scales are quantized too
 */
public record QuantizeOnLoad(Targets targets, QuantFormat format, int blockSize, boolean doubleQuant) {

  public QuantizeOnLoad {
    Objects.requireNonNull(targets, "targets");
    Objects.requireNonNull(format, "format");
    if (!format.blockwise()) {
      throw new IllegalArgumentException("format: " + format.json()
          + "; accepted nf4, fp4, int4, int8 (16-bit bases are chosen with BaseDtype)");
    }
    if (blockSize < 1) {
      throw new IllegalArgumentException("blockSize: " + blockSize + ", expected >= 1");
    }
  }

  /** QLoRA's settings: NF4, block size 64, double quantization. */
  public static QuantizeOnLoad nf4(Targets targets) {
    return new QuantizeOnLoad(targets, QuantFormat.NF4, QuantizedWeight.DEFAULT_BLOCK_SIZE, true);
  }

  /** Whether {@code w} was quantized with these settings. */
  public boolean matches(QuantizedWeight w) {
    return w.format() == format && w.blockSize() == blockSize && w.doubleQuantized() == doubleQuant;
  }
}
