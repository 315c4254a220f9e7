package dev.loraj.core.io;

import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.lang.ref.Reference;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.ShortBuffer;
import java.util.Arrays;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.FloatPointer;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.shape.Shape;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Bytes of a safetensors buffer region to ND4J arrays and back. The file stores row-major
 * little-endian data; ND4J's native buffers are in the platform's byte order, which must be
 * little-endian (x86-64, aarch64) for the direct copies used here.
 *
 * <p><b>Raw access to native memory.</b> ND4J frees an array's native buffer when the Java
 * array object is collected, and compiled code may consider a local dead right after its last
 * use. A raw view of the buffer ({@code data().asNio()}, {@code addressPointer()}, a JavaCPP
 * pointer) does not keep the array alive: if a collection runs while the view is still read or
 * written, the access touches freed memory and the JVM dies. Every method here that takes such a
 * view therefore keeps the array that owns the memory reachable until the last access
 * ({@link Reference#reachabilityFence} in a {@code finally} block or right before the return),
 * and closes the temporary copies it made once it is done with them. The same rule holds for
 * every raw access in the project ({@code BatchedMatMul}, {@code VectorKernelOp},
 * {@code DequantBuffer}).
 */
final class TensorCodec {
  /** Bytes streamed per chunk: big enough for throughput, small next to any heap. */
  static final int CHUNK_BYTES = 1 << 20;

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

  /**
   * Row-major little-endian bytes of {@code array} as {@code target}, in one byte array (at most
   * 2 GiB; {@link #write} streams any size).
   */
  static byte[] encode(INDArray array, SafetensorsDtype target) {
    long numBytes = Math.multiplyExact(array.length(), (long) target.byteSize());
    if (numBytes > Integer.MAX_VALUE - 8) {
      throw new IllegalArgumentException(
          "array of shape " + Arrays.toString(array.shape()) + " needs " + numBytes
              + " bytes as " + target + "; a Java byte array holds at most 2 GiB (write it to a"
              + " file instead)");
    }
    byte[] out = new byte[(int) numBytes];
    try {
      write(array, target, new ArrayOutput(out));
    } catch (IOException e) {
      throw new UncheckedIOException(e); // ArrayOutput does not throw
    }
    return out;
  }

  /**
   * Streams the row-major little-endian bytes of {@code array} as {@code target} to {@code out}
   * in chunks of {@value #CHUNK_BYTES} bytes: no whole-tensor byte array, no size limit. Views,
   * 'f'-order arrays and other types go through one temporary C-order copy, closed at the end.
   */
  static void write(INDArray array, SafetensorsDtype target, OutputStream out) throws IOException {
    requireLittleEndianPlatform();
    if (array.isEmpty() || array.length() == 0) {
      return;
    }
    DataType type = array.dataType();
    boolean half = target == SafetensorsDtype.F16 || target == SafetensorsDtype.BF16;
    DataType sourceType;
    if (type == target.nd4jType().orElse(null)) {
      sourceType = type;
    } else if (target == SafetensorsDtype.F32 || half) {
      sourceType = DataType.FLOAT;
    } else if (target == SafetensorsDtype.F64) {
      sourceType = DataType.DOUBLE;
    } else {
      throw new IllegalArgumentException(
          "cannot write ND4J type " + type + " as " + target + "; integer arrays keep their"
              + " own dtype");
    }
    INDArray source = plainCopy(array, sourceType);
    try {
      // source owns the memory the pointer reads: it stays reachable until the finally block
      BytePointer bytes = new BytePointer(source.data().addressPointer());
      if (half) {
        writeHalf(bytes, source.length(), target == SafetensorsDtype.F16, out);
      } else {
        long total = source.length() * (long) target.byteSize();
        byte[] chunk = new byte[(int) Math.min(CHUNK_BYTES, total)];
        for (long pos = 0; pos < total; pos += chunk.length) {
          int n = (int) Math.min(chunk.length, total - pos);
          bytes.position(pos).get(chunk, 0, n);
          out.write(chunk, 0, n);
        }
      }
    } finally {
      Reference.reachabilityFence(source);
      Reference.reachabilityFence(array);
      if (source != array) {
        source.close();
      }
    }
  }

  /** Floats at {@code bytes} as F16 or BF16 (round to nearest even), a chunk at a time. */
  private static void writeHalf(BytePointer bytes, long count, boolean f16, OutputStream out)
      throws IOException {
    FloatPointer floats = new FloatPointer(bytes);
    float[] in = new float[(int) Math.min(CHUNK_BYTES / 2, count)];
    byte[] chunk = new byte[in.length * 2];
    for (long pos = 0; pos < count; pos += in.length) {
      int n = (int) Math.min(in.length, count - pos);
      floats.position(pos).get(in, 0, n);
      for (int i = 0; i < n; i++) {
        short s = f16 ? HalfPrecision.floatToHalf(in[i]) : HalfPrecision.floatToBfloat16(in[i]);
        chunk[2 * i] = (byte) s;
        chunk[2 * i + 1] = (byte) (s >>> 8);
      }
      out.write(chunk, 0, 2 * n);
    }
  }

  /**
   * {@code array} itself when it is already a C-order {@code type} array starting at its
   * buffer's first element; otherwise a fresh copy that the caller closes.
   */
  private static INDArray plainCopy(INDArray array, DataType type) {
    boolean plain = array.dataType() == type && array.ordering() == 'c' && array.offset() == 0
        && !array.isView() && Shape.hasDefaultStridesForShape(array);
    if (plain) {
      return array;
    }
    INDArray cast = array.dataType() == type ? array : array.castTo(type);
    INDArray copy = cast.dup('c'); // a fresh buffer, offset 0, exactly length() elements
    if (cast != array) {
      cast.close();
    }
    return copy;
  }

  /** An output stream into a byte array of the exact final size. */
  private static final class ArrayOutput extends OutputStream {
    private final byte[] target;
    private int pos;

    ArrayOutput(byte[] target) {
      this.target = target;
    }

    @Override
    public void write(int b) {
      target[pos++] = (byte) b;
    }

    @Override
    public void write(byte[] b, int off, int len) {
      System.arraycopy(b, off, target, pos, len);
      pos += len;
    }
  }

  /**
   * An ND4J array of the ND4J type matching {@code info.dtype()}, holding the same bits, copied
   * from {@code source} {@code chunkBytes} at a time (no size limit).
   */
  static INDArray decodeRaw(TensorSource source, TensorInfo info, int chunkBytes) {
    DataType type =
        info.dtype()
            .nd4jType()
            .orElseThrow(
                () ->
                    new UnsupportedOperationException(
                        "tensor '" + info.name() + "' has dtype " + info.dtype()
                            + ", which ND4J cannot hold; read it with bytes()"));
    INDArray out = Nd4j.create(type, info.shape(), 'c');
    if (out.isEmpty() || info.byteLength() == 0) {
      return out;
    }
    requireLittleEndianPlatform();
    try {
      BytePointer dst = new BytePointer(out.data().addressPointer());
      long total = info.byteLength();
      int step = alignedChunk(chunkBytes, info.dtype().byteSize());
      byte[] chunk = new byte[(int) Math.min(step, total)];
      for (long pos = 0; pos < total; pos += step) {
        int n = (int) Math.min(step, total - pos);
        source.bytes(info.name(), pos, n).get(chunk, 0, n);
        dst.position(pos).put(chunk, 0, n);
      }
    } finally {
      Reference.reachabilityFence(out); // dst is a raw view of out's native buffer
    }
    return out;
  }

  /**
   * A FLOAT array of the values of a F16/BF16/F32/F64 tensor (widening is exact), read from
   * {@code source} {@code chunkBytes} at a time, so a tensor may exceed 2 GiB.
   */
  static INDArray decodeFloat(TensorSource source, TensorInfo info, int chunkBytes) {
    switch (info.dtype()) {
      case F32:
        return decodeRaw(source, info, chunkBytes);
      case F64:
        return decodeRaw(source, info, chunkBytes).castTo(DataType.FLOAT);
      case F16:
      case BF16:
        {
          INDArray out = Nd4j.create(DataType.FLOAT, info.shape(), 'c');
          if (out.isEmpty() || info.numElements() == 0) {
            return out;
          }
          requireLittleEndianPlatform();
          try {
            FloatPointer dst = new FloatPointer(out.data().addressPointer());
            long count = info.numElements();
            int step = alignedChunk(chunkBytes, 2) / 2;
            float[] floats = new float[(int) Math.min(step, count)];
            for (long pos = 0; pos < count; pos += step) {
              int n = (int) Math.min(step, count - pos);
              readFloats(source, info, pos, n, floats);
              dst.position(pos).put(floats, 0, n);
            }
          } finally {
            Reference.reachabilityFence(out); // dst is a raw view of out's native buffer
          }
          return out;
        }
      default:
        throw new IllegalArgumentException(
            "tensor '" + info.name() + "' has dtype " + info.dtype() + "; getFloat converts"
                + " F16, BF16, F32 and F64, use getRaw for other types");
    }
  }

  /**
   * Elements {@code [start, start + count)} of a F16/BF16/F32/F64 tensor as float into
   * {@code out[0, count)} (widening exact, F64 rounded to nearest).
   */
  static void readFloats(TensorSource source, TensorInfo info, long start, int count,
      float[] out) {
    SafetensorsDtype dtype = info.dtype();
    if (!dtype.isFloatingPoint()) {
      throw new IllegalArgumentException("tensor '" + info.name() + "' has dtype " + dtype
          + "; expected F16, BF16, F32 or F64");
    }
    int size = dtype.byteSize();
    ByteBuffer bytes = source.bytes(info.name(), start * size, Math.multiplyExact(count, size));
    switch (dtype) {
      case F32 -> bytes.asFloatBuffer().get(out, 0, count);
      case F64 -> {
        java.nio.DoubleBuffer d = bytes.asDoubleBuffer();
        for (int i = 0; i < count; i++) {
          out[i] = (float) d.get(i);
        }
      }
      case F16 -> {
        ShortBuffer h = bytes.asShortBuffer();
        for (int i = 0; i < count; i++) {
          out[i] = HalfPrecision.halfToFloat(h.get(i));
        }
      }
      default -> {
        ShortBuffer h = bytes.asShortBuffer();
        for (int i = 0; i < count; i++) {
          out[i] = HalfPrecision.bfloat16ToFloat(h.get(i));
        }
      }
    }
  }

  /** {@code chunkBytes} rounded down to whole elements (at least one). */
  private static int alignedChunk(int chunkBytes, int elementBytes) {
    if (chunkBytes < 1) {
      throw new IllegalArgumentException("chunkBytes: " + chunkBytes + ", expected >= 1");
    }
    return Math.max(elementBytes, chunkBytes - chunkBytes % elementBytes);
  }

  private static void requireLittleEndianPlatform() {
    if (ByteOrder.nativeOrder() != ByteOrder.LITTLE_ENDIAN) {
      throw new UnsupportedOperationException(
          "native byte order is " + ByteOrder.nativeOrder() + "; only little-endian platforms"
              + " are supported");
    }
  }
}
