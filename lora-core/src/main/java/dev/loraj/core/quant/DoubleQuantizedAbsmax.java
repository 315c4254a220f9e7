package dev.loraj.core.quant;

/**
 * The per-block absmax values of a {@link QuantizedWeight} after double quantization (QLoRA arXiv
 * 2305.14314, section 3; bitsandbytes {@code compress_statistics=True}): {@code offset = mean(a)},
 * and {@code a - offset} quantized in blocks of {@value QuantizedWeight#DOUBLE_QUANT_BLOCK_SIZE}
 * with the signed dynamic 8-bit map ({@link DynamicMap}) and one fp32 scale per such block, so
 * {@code a_b = dyn[codes_b] * scales_{b/256} + offset}. As in bitsandbytes the reconstructed
 * absmax is not clamped. The second quantization level is a format of its own, applied to the
 * scales rather than to the weight, hence its own type.
 *
 * @param codes dynamic-map code of each block's absmax
 * @param scales fp32 scale of each group of 256 blocks
 * @param offset the mean of the fp32 absmax values
 */
record DoubleQuantizedAbsmax(byte[] codes, float[] scales, float offset) {

  /** Quantizes the fp32 absmax values {@code amax}, one per first-level block. */
  static DoubleQuantizedAbsmax quantize(float[] amax) {
    int blocks = amax.length;
    double sum = 0;
    for (float a : amax) {
      sum += a;
    }
    float offset = (float) (sum / blocks);
    Codebook dyn = DynamicMap.CODEBOOK;
    int groups = (blocks + QuantizedWeight.DOUBLE_QUANT_BLOCK_SIZE - 1) / QuantizedWeight.DOUBLE_QUANT_BLOCK_SIZE;
    float[] scales = new float[groups];
    byte[] qcodes = new byte[blocks];
    for (int g = 0; g < groups; g++) {
      int start = g * QuantizedWeight.DOUBLE_QUANT_BLOCK_SIZE;
      int end = Math.min(start + QuantizedWeight.DOUBLE_QUANT_BLOCK_SIZE, blocks);
      float s = 0f;
      for (int b = start; b < end; b++) {
        s = Math.max(s, Math.abs(amax[b] - offset));
      }
      scales[g] = s;
      float inv = 1f / s;
      for (int b = start; b < end; b++) {
        qcodes[b] = (byte) (s == 0f ? dyn.zeroCode() : dyn.nearest((amax[b] - offset) * inv));
      }
    }
    return new DoubleQuantizedAbsmax(qcodes, scales, offset);
  }

  /** The absmax that dequantization uses for block {@code b}. */
  float absmax(int b) {
    return DynamicMap.CODEBOOK.value(codes[b] & 0xFF) * scales[b / QuantizedWeight.DOUBLE_QUANT_BLOCK_SIZE]
        + offset;
  }

  /** Bytes held: one code per block, fp32 scales and the fp32 offset. */
  long bytes() {
    return codes.length + 4L * scales.length + 4L;
  }
}
