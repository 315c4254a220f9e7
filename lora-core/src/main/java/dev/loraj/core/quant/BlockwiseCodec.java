package dev.loraj.core.quant;

import java.lang.ref.Reference;
import java.nio.ByteBuffer;
import java.util.Objects;

/**
 * Encoding and decoding of the block-wise absmax formats (NF4, FP4, INT4, INT8) of a
 * {@link QuantizedWeight}: the row-major weight is cut into blocks of {@code blockSize}
 * consecutive elements, each element stores the code of the format level nearest to
 * {@code W_e * (1 / a_b)}, 4-bit codes packed two per byte with the even element in the high
 * nibble; plus the checks that the parts of a weight rebuilt from a checkpoint fit that layout.
 * The bit-level code layout is kept here, apart from the weight object, so that the weight's own
 * code reads as shapes, scales and storage rather than nibble arithmetic.
 */
final class BlockwiseCodec {
  private BlockwiseCodec() {}

  /** The codes and the fp32 absmax of each block of an encoded weight. */
  record Encoded(NativeBytes codes, float[] absmax) {}

  /** Where the decoder gets a block's absmax (exact, or reconstructed after double quantization). */
  @FunctionalInterface
  interface BlockScale {
    float absmax(int block);
  }

  /**
   * Encodes {@code n} elements (a weight with {@code cols} columns) that {@code reader} supplies
   * block by block.
   *
   * @throws IllegalArgumentException naming the element if one is NaN or infinite
   */
  static Encoded encode(int cols, long n, QuantizedWeight.ElementReader reader, QuantFormat format,
      int blockSize) {
    int blocks = Math.toIntExact((n + blockSize - 1) / blockSize);
    float[] amax = new float[blocks];
    NativeBytes stored = new NativeBytes(codeBytes(format, n));
    ByteBuffer codes = stored.view();
    Codebook cb = format.codebook();
    boolean packed = format.bits() == 4;
    float[] data = new float[blockSize];
    for (int b = 0; b < blocks; b++) {
      int start = b * blockSize;
      int end = (int) Math.min((long) start + blockSize, n);
      reader.read(start, end - start, data);
      float a = 0f;
      for (int e = start; e < end; e++) {
        float v = data[e - start];
        if (!Float.isFinite(v)) {
          throw new IllegalArgumentException("w[" + (e / cols) + ", " + (e % cols) + "] = " + v
              + ": quantization accepts only finite weights");
        }
        a = Math.max(a, Math.abs(v));
      }
      amax[b] = a;
      float inv = 1f / a;  // bitsandbytes multiplies by the reciprocal of the absmax
      for (int e = start; e < end; e++) {
        int c = a == 0f ? cb.zeroCode() : cb.nearest(data[e - start] * inv);
        if (packed) {
          codes.put(e >> 1, (byte) (codes.get(e >> 1) | ((e & 1) == 0 ? c << 4 : c)));
        } else {
          codes.put(e, (byte) c);
        }
      }
    }
    return new Encoded(stored, amax);
  }

  /**
   * Decodes elements {@code [start, start + len)}, flat row-major indices, into
   * {@code out[0, len)}: {@code deq(W)_e = table[code_e] * a_b} in float.
   */
  static void decode(QuantFormat format, float[] table, NativeBytes stored, int blockSize,
      BlockScale scale, long start, int len, float[] out) {
    try {
      decode(format, table, stored.view(), blockSize, scale, start, len, out);
    } finally {
      Reference.reachabilityFence(stored); // the view reads the array it owns
    }
  }

  private static void decode(QuantFormat format, float[] table, ByteBuffer codes, int blockSize,
      BlockScale scale, long start, int len, float[] out) {
    long end = start + len;
    float[] scaled = new float[16];
    long e = start;
    int o = 0;
    while (e < end) {
      int b = (int) (e / blockSize);
      long blockEnd = Math.min((long) (b + 1) * blockSize, end);
      float a = scale.absmax(b);
      if (format.bits() == 4) {
        for (int k = 0; k < 16; k++) {
          scaled[k] = table[k] * a;
        }
        if ((e & 1) != 0 && e < blockEnd) {
          out[o++] = scaled[codes.get((int) (e >> 1)) & 0x0F];
          e++;
        }
        int pairs = (int) ((blockEnd - e) >> 1);
        int p = (int) (e >> 1);
        for (int i = 0; i < pairs; i++) {
          int v = codes.get(p + i);
          out[o] = scaled[(v >> 4) & 0x0F];
          out[o + 1] = scaled[v & 0x0F];
          o += 2;
        }
        e += 2L * pairs;
        if (e < blockEnd) {
          out[o++] = scaled[(codes.get((int) (e >> 1)) >> 4) & 0x0F];
          e++;
        }
      } else {
        for (int i = (int) e; i < blockEnd; i++) {
          out[o++] = table[codes.get(i) & 0xFF] * a;
        }
        e = blockEnd;
      }
    }
  }

  /**
   * Checks the parts a block-wise weight is rebuilt from (a checkpoint's): positive shape and
   * block size, and one code byte count that fits {@code out * in} elements of {@code format}.
   */
  static void checkParts(QuantFormat format, int out, int in, int blockSize, byte[] codes) {
    Objects.requireNonNull(format, "format");
    if (out < 1 || in < 1) {
      throw new IllegalArgumentException("shape: [" + out + ", " + in + "], expected positive");
    }
    if (blockSize < 1) {
      throw new IllegalArgumentException("blockSize: " + blockSize + ", expected >= 1");
    }
    long n = (long) out * in;
    checkCapacity(format, n);
    Objects.requireNonNull(codes, "codes");
    if (codes.length != codeBytes(format, n)) {
      throw new IllegalArgumentException("codes.length: " + codes.length + ", expected "
          + codeBytes(format, n) + " for " + n + " " + format.bits() + "-bit codes");
    }
  }

  /** Checks that {@code a} is not null and has {@code expected} elements. */
  static void requireLength(String name, float[] a, int expected) {
    Objects.requireNonNull(a, name);
    if (a.length != expected) {
      throw new IllegalArgumentException(name + ".length: " + a.length + ", expected "
          + expected);
    }
  }

  /**
   * Refuses a weight of {@code n} elements whose codes (or 16-bit elements) would not fit one
   * Java array.
   */
  static void checkCapacity(QuantFormat format, long n) {
    long bytes = format.bits() == 4 ? (n + 1) / 2 : n; // 16-bit formats: n shorts
    if (bytes > Integer.MAX_VALUE - 8 || n > Integer.MAX_VALUE - 8) {
      throw new IllegalArgumentException("weight with " + n
          + " elements is too large: at most " + (Integer.MAX_VALUE - 8) + " supported");
    }
  }

  /** Bytes of the codes of {@code n} elements: two 4-bit codes a byte, else one a byte. */
  static int codeBytes(QuantFormat format, long n) {
    return (int) (format.bits() == 4 ? (n + 1) / 2 : n);
  }
}
