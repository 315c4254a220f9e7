package dev.loraj.core.quant;

import java.lang.ref.Reference;
import java.nio.ByteBuffer;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * The stored bytes of a held weight in native memory: the packed codes of a block-wise format
 * (NF4, FP4, INT4, INT8) or a 16-bit weight's elements ({@link HalfCodec.Elements}), in an ND4J
 * byte array that is read and written through a buffer view of it.
 *
 * <p>Why not a {@code byte[]} or {@code short[]}: a model's held weights are most of its memory,
 * and on the Java heap they were humongous objects that made the collector grow the heap at load
 * time (Qwen2.5-0.5B in bf16: 0.7 GB of weights, 3.3 GB of heap committed), and a training step's
 * ordinary garbage then filled the grown heap before any collection: the resident set of a bf16
 * base ended above that of an fp32 one. Native memory is also outside -Xmx.
 *
 * <p>The view reads memory the array owns: a caller that holds the {@link #view} keeps this object
 * reachable until it is done with it (the rule of {@code TensorCodec}, docs/engine.md).
 */
final class NativeBytes {
  private final INDArray array;
  private final ByteBuffer bytes;

  /** {@code n} zero bytes. */
  NativeBytes(long n) {
    if (n > Integer.MAX_VALUE - 8) {
      throw new IllegalArgumentException(n + " bytes: a held weight is at most " + (Integer.MAX_VALUE - 8));
    }
    array = Nd4j.create(DataType.BYTE, n);
    bytes = array.data().asNio();
    if (bytes.capacity() != n) {
      throw new IllegalStateException("a view of " + bytes.capacity() + " bytes over " + n);
    }
  }

  static NativeBytes copyOf(byte[] src) {
    NativeBytes c = new NativeBytes(src.length);
    try {
      c.bytes.put(0, src);
    } finally {
      Reference.reachabilityFence(c);
    }
    return c;
  }

  int length() {
    return bytes.capacity();
  }

  /** The buffer view (absolute reads and writes only; see the class comment on reachability). */
  ByteBuffer view() {
    return bytes;
  }

  /** The native array, for the memory ledger. */
  INDArray array() {
    return array;
  }

  byte[] toArray() {
    try {
      byte[] out = new byte[bytes.capacity()];
      bytes.get(0, out);
      return out;
    } finally {
      Reference.reachabilityFence(this);
    }
  }
}
