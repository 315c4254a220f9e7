package dev.loraj.core.quant;

import dev.loraj.core.io.HalfPrecision;
import java.lang.ref.Reference;
import java.nio.ByteOrder;
import java.nio.ShortBuffer;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

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
   * A 16-bit weight's elements, row-major, in native memory (an ND4J array of shorts) and read
   * through a buffer view of it.
   *
   * <p>Why not a {@code short[]}: a model's 16-bit weights are most of its memory, and on the
   * Java heap they were humongous objects that made the collector grow the heap at load time
   * (Qwen2.5-0.5B in bf16: 0.7 GB of weights, 3.3 GB of heap committed), and a training step's
   * ordinary garbage then filled the grown heap before any collection: the resident set of a
   * bf16 base ended above that of an fp32 one. Native memory is also outside -Xmx.
   *
   * <p>The view reads memory the array owns, so every read keeps this object, and with it the
   * array, reachable until it returns (the rule of {@code TensorCodec}, docs/engine.md).
   */
  static final class Elements {
    private final INDArray array;
    private final ShortBuffer bits;

    Elements(long n) {
      array = Nd4j.createUninitialized(DataType.SHORT, n);
      bits = array.data().asNio().order(ByteOrder.nativeOrder()).asShortBuffer();
      if (bits.capacity() != n) {
        throw new IllegalStateException("a view of " + bits.capacity() + " elements over " + n);
      }
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
      return array;
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
