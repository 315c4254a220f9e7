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

  /** The tensor's bytes: a read-only little-endian buffer, position 0, limit = byte length. */
  ByteBuffer bytes(String name);

  /**
   * A F16, BF16, F32 or F64 tensor as an ND4J FLOAT array in C order, of the stored shape
   * (rank 0 for a scalar). Widening is exact; F64 is rounded to nearest.
   *
   * @throws IllegalArgumentException for integer, boolean and 8-bit float dtypes
   */
  default INDArray getFloat(String name) {
    return TensorCodec.decodeFloat(bytes(name), info(name));
  }

  /**
   * The tensor as an ND4J array of the matching type, bit for bit: U8 as UINT8, I64 as INT64,
   * F16 as HALF, BF16 as BFLOAT16, and so on.
   *
   * @throws UnsupportedOperationException for dtypes ND4J cannot hold (C64, F8_*)
   */
  default INDArray getRaw(String name) {
    return TensorCodec.decodeRaw(bytes(name), info(name));
  }

  @Override
  void close();
}
