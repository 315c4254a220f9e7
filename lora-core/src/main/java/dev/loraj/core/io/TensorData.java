package dev.loraj.core.io;

import java.util.Arrays;
import java.util.Objects;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * A tensor as the file stores it: dtype, shape and the row-major little-endian bytes. Used to
 * write types ND4J cannot hold (8-bit floats) or bytes that are already encoded (packed NF4
 * codes as U8, for example).
 *
 * @param dtype the element type
 * @param shape the dimensions, empty for a scalar (copied on the way in and out)
 * @param bytes exactly {@code product(shape) * dtype.byteSize()} bytes (copied likewise)
 */
public record TensorData(SafetensorsDtype dtype, long[] shape, byte[] bytes) {

  public TensorData {
    Objects.requireNonNull(dtype, "dtype");
    shape = shape.clone();
    bytes = bytes.clone();
    long expected = dtype.byteSize();
    for (long d : shape) {
      if (d < 0) {
        throw new IllegalArgumentException(
            "shape " + Arrays.toString(shape) + " has a negative dimension; expected sizes >= 0");
      }
      expected = Math.multiplyExact(expected, d);
    }
    if (expected != bytes.length) {
      throw new IllegalArgumentException(
          "bytes has length " + bytes.length + " but shape " + Arrays.toString(shape) + " of "
              + dtype + " needs " + expected + " bytes");
    }
  }

  /** An ND4J array encoded as {@link SafetensorsWriter} would: floats as F32, others unchanged. */
  public static TensorData of(INDArray array) {
    return of(array, SafetensorsDtype.F32);
  }

  /**
   * An ND4J array encoded with floating-point arrays converted to {@code floatDtype}; integer
   * and boolean arrays keep their type. Views and 'f'-order arrays are read in C order.
   */
  public static TensorData of(INDArray array, SafetensorsDtype floatDtype) {
    SafetensorsDtype target = TensorCodec.targetDtype(array, floatDtype);
    return new TensorData(target, array.shape(), TensorCodec.encode(array, target));
  }

  @Override
  public long[] shape() {
    return shape.clone();
  }

  @Override
  public byte[] bytes() {
    return bytes.clone();
  }

  /** The byte count without copying the bytes. */
  public int byteLength() {
    return bytes.length;
  }

  byte[] bytesUnsafe() {
    return bytes;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof TensorData t
        && dtype == t.dtype
        && Arrays.equals(shape, t.shape)
        && Arrays.equals(bytes, t.bytes);
  }

  @Override
  public int hashCode() {
    return Objects.hash(dtype, Arrays.hashCode(shape), Arrays.hashCode(bytes));
  }

  @Override
  public String toString() {
    return "TensorData[" + dtype + " " + Arrays.toString(shape) + ", " + bytes.length + " bytes]";
  }
}
