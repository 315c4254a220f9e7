package dev.loraj.core.quant;

import dev.loraj.core.io.HalfPrecision;
import java.lang.ref.Reference;
import java.nio.ByteOrder;
import java.nio.ShortBuffer;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Encoding and decoding of the 16-bit formats (BF16, F16) of a {@link QuantizedWeight}: each
 * element is its 16-bit float (round to nearest even), no blocks, no scales. Separate from the
 * block-wise codec because the two share nothing but the element reader they are fed from.
 */
final class HalfCodec {
  private HalfCodec() {}

  /** Elements rounded per chunk, so a weight read from a mapped file is never copied whole. */
  private static final int CHUNK = 1 << 16;

  /**
   * A 16-bit weight's elements, row-major, in native memory ({@link NativeBytes}, which says why)
   * and read through a native-order short view of it; every read keeps this object, and with it
   * the memory, reachable until it returns.
   */
  static final class Elements {
    private final NativeBytes store;
    private final ShortBuffer bits;

    Elements(long n) {
      store = new NativeBytes(2 * n);
      bits = store.view().duplicate().order(ByteOrder.nativeOrder()).asShortBuffer();
    }

    /** The elements' bits copied from {@code src}, position to limit. */
    static Elements copyOf(ShortBuffer src) {
      Elements e = new Elements(src.remaining());
      try {
        e.bits.duplicate().put(src.duplicate());
      } finally {
        Reference.reachabilityFence(e);
      }
      return e;
    }

    int length() {
      return bits.capacity();
    }

    /** The native array, for the memory ledger. */
    INDArray array() {
      return store.array();
    }

    /** Widens elements {@code [start, start + len)} into {@code out[0, len)}. */
    void decode(QuantFormat format, int start, int len, float[] out) {
      try {
        if (format == QuantFormat.BF16) {
          for (int i = 0; i < len; i++) {
            out[i] = Float.intBitsToFloat((bits.get(start + i) & 0xffff) << 16); // exact widening
          }
        } else {
          for (int i = 0; i < len; i++) {
            out[i] = HalfPrecision.halfToFloat(bits.get(start + i));
          }
        }
      } finally {
        Reference.reachabilityFence(this);
      }
    }

    /** The elements' bits as little-endian byte pairs (the safetensors layout). */
    byte[] littleEndian() {
      try {
        byte[] out = new byte[2 * bits.capacity()];
        for (int i = 0; i < bits.capacity(); i++) {
          short h = bits.get(i);
          out[2 * i] = (byte) h;
          out[2 * i + 1] = (byte) (h >>> 8);
        }
        return out;
      } finally {
        Reference.reachabilityFence(this);
      }
    }
  }

  /** Rounds every element of a weight of {@code n} elements to the 16-bit {@code format}, a chunk at a time. */
  static Elements encode(int n, QuantizedWeight.ElementReader reader, QuantFormat format) {
    Elements e = new Elements(n);
    float[] chunk = new float[Math.min(n, CHUNK)];
    boolean bf16 = format == QuantFormat.BF16;
    try {
      for (int start = 0; start < n; start += chunk.length) {
        int len = Math.min(chunk.length, n - start);
        reader.read(start, len, chunk);
        for (int i = 0; i < len; i++) {
          e.bits.put(start + i, bf16 ? HalfPrecision.floatToBfloat16(chunk[i])
              : HalfPrecision.floatToHalf(chunk[i]));
        }
      }
    } finally {
      Reference.reachabilityFence(e);
    }
    return e;
  }
}
