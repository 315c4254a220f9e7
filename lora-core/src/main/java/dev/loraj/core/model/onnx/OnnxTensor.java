package dev.loraj.core.model.onnx;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * One ONNX {@code TensorProto} (an initializer or a {@code Constant} node's value), its payload
 * left in the file's bytes until asked for.
 *
 * <p>ONNX stores a tensor either in {@code raw_data} (little-endian, row-major) or in the typed
 * repeated field ({@code float_data}, {@code int64_data}); exactly one is used. A shape that
 * disagrees with the data, a negative dim or a wrong data type is an {@link OnnxFormatException}.
 *
 * @param name the tensor's name in the graph (may be empty for a {@code Constant} value)
 * @param dataType ONNX {@code TensorProto.DataType}: 1 FLOAT, 7 INT64, ...
 * @param dims the shape, row-major; empty for a scalar
 * @param raw the {@code raw_data} bytes (a view into the file), or null
 * @param floatData the {@code float_data} values, or null
 * @param int64Data the {@code int64_data} values, or null
 */
public record OnnxTensor(
    String name, int dataType, long[] dims, ByteBuffer raw, float[] floatData, long[] int64Data) {

  public static final int FLOAT = 1;
  public static final int INT64 = 7;

  public boolean isFloat() {
    return dataType == FLOAT;
  }

  /**
   * The product of the dims.
   *
   * @throws OnnxFormatException for a negative dim or a product past 64 bits
   */
  public long elementCount() {
    long n = 1;
    for (long d : dims) {
      if (d < 0) {
        throw new OnnxFormatException("ONNX tensor '" + name + "' has shape " + Arrays.toString(dims)
            + " with a negative dim");
      }
      try {
        n = Math.multiplyExact(n, d);
      } catch (ArithmeticException e) {
        throw new OnnxFormatException("ONNX tensor '" + name + "' has shape " + Arrays.toString(dims)
            + " whose element count overflows 64 bits");
      }
    }
    return n;
  }

  /** The values of a FLOAT tensor, row-major. */
  public float[] toFloatArray() {
    requireType(FLOAT, "FLOAT (1)");
    long n = elementCount();
    if (n > Integer.MAX_VALUE) {
      throw new OnnxFormatException("ONNX tensor '" + name + "' has " + n
          + " elements, more than a Java array holds (" + Integer.MAX_VALUE + ")");
    }
    float[] out;
    if (raw != null) {
      if (raw.remaining() != n * Float.BYTES) { // n <= Integer.MAX_VALUE: no overflow
        throw new OnnxFormatException("ONNX tensor '" + name + "': raw_data has " + raw.remaining()
            + " bytes, shape " + Arrays.toString(dims) + " needs " + n * Float.BYTES);
      }
      out = new float[(int) n];
      raw.duplicate().order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(out);
    } else {
      out = floatData == null ? new float[0] : floatData;
      if (out.length != n) {
        throw new OnnxFormatException("ONNX tensor '" + name + "': float_data has " + out.length
            + " values, shape " + Arrays.toString(dims) + " needs " + n);
      }
    }
    return out;
  }

  /** The values of an INT64 tensor, row-major. */
  public long[] toLongArray() {
    requireType(INT64, "INT64 (7)");
    long n = elementCount();
    long have = raw != null ? raw.remaining() / Long.BYTES : int64Data == null ? 0 : int64Data.length;
    if ((raw != null && raw.remaining() % Long.BYTES != 0) || have != n) {
      throw new OnnxFormatException("ONNX tensor '" + name + "': " + (raw != null ? "raw_data has "
          + raw.remaining() + " bytes" : "int64_data has " + have + " values") + ", shape "
          + Arrays.toString(dims) + " needs " + n + " values");
    }
    if (raw != null) {
      long[] out = new long[(int) n];
      raw.duplicate().order(ByteOrder.LITTLE_ENDIAN).asLongBuffer().get(out);
      return out;
    }
    return int64Data == null ? new long[0] : int64Data.clone();
  }

  /** A FLOAT tensor as a float32 INDArray of the same shape ('c' order). */
  public INDArray toINDArray() {
    float[] values = toFloatArray();
    if (dims.length == 0) {
      return Nd4j.scalar(values[0]);
    }
    return Nd4j.create(values, dims, 'c');
  }

  /**
   * A rank-2 FLOAT tensor [rows, cols] transposed to a 'c'-order INDArray [cols, rows]; done on
   * the Java array, which is several times faster than ND4J's strided {@code dup} of a view.
   */
  public INDArray toTransposedINDArray() {
    if (dims.length != 2) {
      throw new OnnxFormatException("ONNX tensor '" + name + "' has shape "
          + Arrays.toString(dims) + ", a transpose needs rank 2");
    }
    float[] values = toFloatArray();
    int rows = (int) dims[0];
    int cols = (int) dims[1];
    float[] out = new float[values.length];
    for (int r = 0; r < rows; r++) {
      int base = r * cols;
      for (int c = 0; c < cols; c++) {
        out[c * rows + r] = values[base + c];
      }
    }
    return Nd4j.create(out, new long[] {cols, rows}, 'c');
  }

  /** The single value of a one-element FLOAT tensor (a scalar constant such as an epsilon). */
  public float scalarFloat() {
    if (elementCount() != 1) {
      throw new OnnxFormatException("ONNX tensor '" + name + "' has shape "
          + Arrays.toString(dims) + ", expected a single value");
    }
    return toFloatArray()[0];
  }

  private void requireType(int expected, String label) {
    if (dataType != expected) {
      throw new OnnxFormatException("ONNX tensor '" + name + "' has data_type " + dataType
          + ", expected " + label);
    }
  }

  @Override
  public String toString() {
    return "OnnxTensor[" + name + ", type " + dataType + ", " + Arrays.toString(dims) + "]";
  }
}
