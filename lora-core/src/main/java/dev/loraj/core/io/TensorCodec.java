package dev.loraj.core.io;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.ShortBuffer;
import java.util.Arrays;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Bytes of a safetensors buffer region to ND4J arrays and back. The file stores row-major
 * little-endian data; ND4J's native buffers are in the platform's byte order, which must be
 * little-endian (x86-64, aarch64) for the direct copies used here.
 */
final class TensorCodec {
  private TensorCodec() {}

  /** The dtype an array is written as: floats as {@code floatDtype}, the rest unchanged. */
  static SafetensorsDtype targetDtype(INDArray array, SafetensorsDtype floatDtype) {
    if (!floatDtype.isFloatingPoint()) {
      throw new IllegalArgumentException(
          "floatDtype is " + floatDtype + "; expected one of F16, BF16, F32, F64");
    }
    DataType type = array.dataType();
    if (type.isFPType()) {
      return floatDtype;
    }
    return SafetensorsDtype.of(type)
        .orElseThrow(
            () ->
                new IllegalArgumentException(
                    "ND4J type " + type + " has no safetensors dtype; expected a numeric or"
                        + " BOOL array"));
  }

  /** Row-major little-endian bytes of {@code array} as {@code target}. */
  static byte[] encode(INDArray array, SafetensorsDtype target) {
    requireLittleEndianPlatform();
    long numBytes = Math.multiplyExact(array.length(), (long) target.byteSize());
    if (numBytes > Integer.MAX_VALUE - 8) {
      throw new IllegalArgumentException(
          "array of shape " + Arrays.toString(array.shape()) + " needs " + numBytes
              + " bytes as " + target + "; tensors over 2 GiB are not supported");
    }
    if (array.isEmpty() || numBytes == 0) {
      return new byte[0];
    }
    DataType type = array.dataType();
    if (type == target.nd4jType().orElse(null)) {
      return rawBytes(array, (int) numBytes);
    }
    switch (target) {
      case F32:
        return rawBytes(array.castTo(DataType.FLOAT), (int) numBytes);
      case F64:
        return rawBytes(array.castTo(DataType.DOUBLE), (int) numBytes);
      case F16:
      case BF16:
        {
          long floatBytes = array.length() * 4L;
          if (floatBytes > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException(
                "array of shape " + Arrays.toString(array.shape()) + " needs " + floatBytes
                    + " bytes as FLOAT on the way to " + target + "; over 2 GiB is not supported");
          }
          FloatBuffer floats =
              ByteBuffer.wrap(rawBytes(array.castTo(DataType.FLOAT), (int) floatBytes))
                  .order(ByteOrder.LITTLE_ENDIAN)
                  .asFloatBuffer();
          ByteBuffer out = ByteBuffer.allocate((int) numBytes).order(ByteOrder.LITTLE_ENDIAN);
          boolean half = target == SafetensorsDtype.F16;
          while (floats.hasRemaining()) {
            float f = floats.get();
            out.putShort(half ? HalfPrecision.floatToHalf(f) : HalfPrecision.floatToBfloat16(f));
          }
          return out.array();
        }
      default:
        throw new IllegalArgumentException(
            "cannot write ND4J type " + type + " as " + target + "; integer arrays keep their"
                + " own dtype");
    }
  }

  /** The C-order bytes of any array: views and 'f'-order arrays are copied to C order first. */
  private static byte[] rawBytes(INDArray array, int numBytes) {
    INDArray c = array.dup('c'); // a fresh buffer, offset 0, exactly length() elements
    ByteBuffer nio = c.data().asNio();
    byte[] out = new byte[numBytes];
    ByteBuffer view = nio.duplicate();
    view.position(0);
    view.get(out, 0, numBytes);
    return out;
  }

  /** An ND4J array of the ND4J type matching {@code info.dtype()}, holding the same bits. */
  static INDArray decodeRaw(ByteBuffer bytes, TensorInfo info) {
    DataType type =
        info.dtype()
            .nd4jType()
            .orElseThrow(
                () ->
                    new UnsupportedOperationException(
                        "tensor '" + info.name() + "' has dtype " + info.dtype()
                            + ", which ND4J cannot hold; read it with bytes()"));
    return copyInto(Nd4j.create(type, info.shape(), 'c'), bytes, info);
  }

  /** A FLOAT array of the values of a F16/BF16/F32/F64 tensor (widening is exact). */
  static INDArray decodeFloat(ByteBuffer bytes, TensorInfo info) {
    switch (info.dtype()) {
      case F32:
        return decodeRaw(bytes, info);
      case F64:
        return decodeRaw(bytes, info).castTo(DataType.FLOAT);
      case F16:
      case BF16:
        {
          INDArray out = Nd4j.create(DataType.FLOAT, info.shape(), 'c');
          if (out.isEmpty() || info.numElements() == 0) {
            return out;
          }
          requireLittleEndianPlatform();
          checkSize(info, info.numElements() * 4);
          ShortBuffer src = bytes.duplicate().order(ByteOrder.LITTLE_ENDIAN).asShortBuffer();
          FloatBuffer dst = out.data().asNio().order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer();
          boolean half = info.dtype() == SafetensorsDtype.F16;
          while (src.hasRemaining()) {
            short s = src.get();
            dst.put(half ? HalfPrecision.halfToFloat(s) : HalfPrecision.bfloat16ToFloat(s));
          }
          return out;
        }
      default:
        throw new IllegalArgumentException(
            "tensor '" + info.name() + "' has dtype " + info.dtype() + "; getFloat converts"
                + " F16, BF16, F32 and F64, use getRaw for other types");
    }
  }

  private static INDArray copyInto(INDArray out, ByteBuffer bytes, TensorInfo info) {
    if (out.isEmpty() || info.byteLength() == 0) {
      return out;
    }
    requireLittleEndianPlatform();
    checkSize(info, info.byteLength());
    ByteBuffer dst = out.data().asNio();
    dst.position(0);
    ByteBuffer src = bytes.duplicate();
    src.position(0).limit((int) info.byteLength());
    dst.put(src);
    return out;
  }

  private static void checkSize(TensorInfo info, long bytes) {
    if (bytes > Integer.MAX_VALUE - 8) {
      throw new UnsupportedOperationException(
          "tensor '" + info.name() + "' needs " + bytes + " bytes as an ND4J array; tensors"
              + " over 2 GiB are not supported, read slices of bytes() instead");
    }
  }

  private static void requireLittleEndianPlatform() {
    if (ByteOrder.nativeOrder() != ByteOrder.LITTLE_ENDIAN) {
      throw new UnsupportedOperationException(
          "native byte order is " + ByteOrder.nativeOrder() + "; only little-endian platforms"
              + " are supported");
    }
  }
}
