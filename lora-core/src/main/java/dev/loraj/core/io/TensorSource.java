package dev.loraj.core.io;

import java.nio.ByteBuffer;
import java.util.Map;
import java.util.Set;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Named tensors read from safetensors storage: one file ({@link SafetensorsFile}) or a
 * checkpoint directory ({@link ShardedCheckpoint}).
 *
 * <p>Order of use: open, read any tensors, {@link #close()}. Arrays returned by the getters
 * are fresh copies that outlive the source; buffers from {@link #bytes} must not be used after
 * close. Getters for a name that is absent throw {@link IllegalArgumentException}.
 */
public interface TensorSource extends AutoCloseable {

  /** Tensor names, in storage order. */
  Set<String> names();

  default boolean contains(String name) {
    return names().contains(name);
  }

  TensorInfo info(String name);

  /** The string metadata ({@code __metadata__}, or the index's {@code metadata}). */
  Map<String, String> metadata();

  /**
   * The tensor's bytes: a read-only little-endian buffer, position 0, limit = byte length.
   *
   * @throws UnsupportedOperationException when the tensor has more than 2 GiB (one Java buffer
   *     cannot address it): read it with {@link #bytes(String, long, int)}
   */
  ByteBuffer bytes(String name);

  /**
   * Bytes {@code [offset, offset + length)} of the tensor's data, a read-only little-endian
   * buffer: the way to read a tensor of any size, including one over 2 GiB, a piece at a time.
   *
   * @throws IndexOutOfBoundsException if the range is not inside the tensor
   */
  default ByteBuffer bytes(String name, long offset, int length) {
    TensorInfo info = info(name);
    checkRange(info, offset, length);
    return bytes(name).slice((int) offset, length).order(java.nio.ByteOrder.LITTLE_ENDIAN);
  }

  /** Throws unless {@code [offset, offset + length)} lies inside the tensor's bytes. */
  static void checkRange(TensorInfo info, long offset, int length) {
    if (offset < 0 || length < 0 || offset + length > info.byteLength()) {
      throw new IndexOutOfBoundsException("tensor '" + info.name() + "': bytes [" + offset + ", "
          + (offset + length) + ") outside [0, " + info.byteLength() + ")");
    }
  }

  /**
   * A F16, BF16, F32 or F64 tensor as an ND4J FLOAT array in C order, of the stored shape
   * (rank 0 for a scalar). Widening is exact; F64 is rounded to nearest. Read in pieces, so a
   * tensor may exceed 2 GiB.
   *
   * @throws IllegalArgumentException for integer, boolean and 8-bit float dtypes
   */
  default INDArray getFloat(String name) {
    return TensorCodec.decodeFloat(this, info(name), TensorCodec.CHUNK_BYTES);
  }

  /**
   * The tensor as an ND4J array of the matching type, bit for bit: U8 as UINT8, I64 as INT64,
   * F16 as HALF, BF16 as BFLOAT16, and so on.
   *
   * @throws UnsupportedOperationException for dtypes ND4J cannot hold (C64, F8_*)
   */
  default INDArray getRaw(String name) {
    return TensorCodec.decodeRaw(this, info(name), TensorCodec.CHUNK_BYTES);
  }

  @Override
  void close();
}
