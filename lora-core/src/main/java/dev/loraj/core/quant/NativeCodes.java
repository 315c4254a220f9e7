package dev.loraj.core.quant;

import java.lang.ref.Reference;
import java.nio.ByteBuffer;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * The packed codes of a block-wise quantized weight (NF4, FP4, INT4, INT8) in native memory: an
 * ND4J byte array, read and written through a buffer view of it. Off the Java heap for the reason
 * {@link HalfCodec.Elements} gives: a model's quantized weights are most of a QLoRA run's memory,
 * and as humongous heap objects they made the collector grow the heap at load time, a heap that a
 * training step's garbage then filled.
 *
 * <p>The view reads memory the array owns: a caller that holds the {@link #view} keeps this object
 * reachable until it is done with it (the rule of {@code TensorCodec}, docs/engine.md).
 */
final class NativeCodes {
  private final INDArray array;
  private final ByteBuffer bytes;

  /** {@code n} zero bytes. */
  NativeCodes(int n) {
    array = Nd4j.create(DataType.BYTE, n);
    bytes = array.data().asNio();
    if (bytes.capacity() != n) {
      throw new IllegalStateException("a view of " + bytes.capacity() + " bytes over " + n);
    }
  }

  static NativeCodes copyOf(byte[] src) {
    NativeCodes c = new NativeCodes(src.length);
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
