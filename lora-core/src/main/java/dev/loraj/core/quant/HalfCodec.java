package dev.loraj.core.quant;

import dev.loraj.core.io.HalfPrecision;

/**
 * Encoding and decoding of the 16-bit formats (BF16, F16) of a {@link QuantizedWeight}: each
 * element is its 16-bit float (round to nearest even), no blocks, no scales. Separate from the
 * block-wise codec because the two share nothing but the element reader they are fed from.
 */
final class HalfCodec {
  private HalfCodec() {}

  /** Elements rounded per chunk, so a weight read from a mapped file is never copied whole. */
  private static final int CHUNK = 1 << 16;

  /** Rounds every element of a weight of {@code n} elements to the 16-bit {@code format}, a chunk at a time. */
  static short[] encode(int n, QuantizedWeight.ElementReader reader, QuantFormat format) {
    short[] bits = new short[n];
    float[] chunk = new float[Math.min(n, CHUNK)];
    boolean bf16 = format == QuantFormat.BF16;
    for (int start = 0; start < n; start += chunk.length) {
      int len = Math.min(chunk.length, n - start);
      reader.read(start, len, chunk);
      for (int i = 0; i < len; i++) {
        bits[start + i] = bf16 ? HalfPrecision.floatToBfloat16(chunk[i])
            : HalfPrecision.floatToHalf(chunk[i]);
      }
    }
    return bits;
  }

  /** Widens elements {@code [start, start + len)} of {@code halves} into {@code out[0, len)}. */
  static void decode(QuantFormat format, short[] halves, int start, int len, float[] out) {
    if (format == QuantFormat.BF16) {
      for (int i = 0; i < len; i++) {
        out[i] = Float.intBitsToFloat((halves[start + i] & 0xffff) << 16); // exact widening
      }
    } else {
      for (int i = 0; i < len; i++) {
        out[i] = HalfPrecision.halfToFloat(halves[start + i]);
      }
    }
  }

  /** The elements' bits as little-endian byte pairs (the safetensors layout). */
  static byte[] littleEndian(short[] halves) {
    byte[] out = new byte[2 * halves.length];
    for (int i = 0; i < halves.length; i++) {
      out[2 * i] = (byte) halves[i];
      out[2 * i + 1] = (byte) (halves[i] >>> 8);
    }
    return out;
  }
}
