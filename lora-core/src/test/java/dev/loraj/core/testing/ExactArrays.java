package dev.loraj.core.testing;

import java.util.Arrays;
import java.util.Map;
import java.util.TreeSet;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.shape.Shape;

/**
 * Exact equality of arrays for checks that claim "bit-identical", "exact" or "unchanged".
 *
 * <p>Why not {@code INDArray.equals} (or AssertJ's {@code isEqualTo} on arrays, which calls it):
 * in ND4J 1.0.0-M2.1 it compares floating-point entries within an absolute 1e-5 and ignores the
 * data type of a floating-point pair, so a weight that moved by 1e-6 counts as unchanged. Here
 * two arrays are equal when data type, shape and the bit pattern of every element agree (so
 * {@code 0.0} and {@code -0.0} differ, and a NaN equals only a NaN with the same payload).
 */
public final class ExactArrays {
  private ExactArrays() {}

  /** Whether {@code a} and {@code b} have the same data type, shape and element bits. */
  public static boolean bitIdentical(INDArray a, INDArray b) {
    return difference(a, b) == null;
  }

  /**
   * Fails unless {@code actual} and {@code expected} are bit-identical; the message names
   * {@code what}, the first differing element (C order) with both values and bit patterns, and
   * how many elements differ.
   */
  public static void assertBitIdentical(INDArray actual, INDArray expected, String what) {
    String d = difference(actual, expected);
    if (d != null) {
      throw new AssertionError(what + ": not bit-identical: " + d);
    }
  }

  /** {@link #assertBitIdentical(INDArray, INDArray, String)} for every key of two maps. */
  public static void assertBitIdentical(Map<String, INDArray> actual, Map<String, INDArray> expected,
      String what) {
    if (!actual.keySet().equals(expected.keySet())) {
      TreeSet<String> missing = new TreeSet<>(expected.keySet());
      missing.removeAll(actual.keySet());
      TreeSet<String> extra = new TreeSet<>(actual.keySet());
      extra.removeAll(expected.keySet());
      throw new AssertionError(what + ": keys differ; missing " + missing + ", extra " + extra);
    }
    for (Map.Entry<String, INDArray> e : expected.entrySet()) {
      assertBitIdentical(actual.get(e.getKey()), e.getValue(), what + " '" + e.getKey() + "'");
    }
  }

  /** A description of the first difference, or {@code null} if there is none. */
  static String difference(INDArray a, INDArray b) {
    if (a == null || b == null) {
      return a == b ? null : "one array is null (actual " + a + ", expected " + b + ")";
    }
    if (a.dataType() != b.dataType()) {
      return "data type " + a.dataType() + ", expected " + b.dataType();
    }
    if (!Arrays.equals(a.shape(), b.shape())) {
      return "shape " + Arrays.toString(a.shape()) + ", expected " + Arrays.toString(b.shape());
    }
    long n = a.length();
    if (n == 0) {
      return null;
    }
    long[] x = bits(a);
    long[] y = bits(b);
    int first = -1;
    int count = 0;
    for (int i = 0; i < x.length; i++) {
      if (x[i] != y[i]) {
        count++;
        if (first < 0) {
          first = i;
        }
      }
    }
    if (first < 0) {
      return null;
    }
    long[] index = a.rank() == 0 ? new long[0] : Shape.ind2subC(a.shape(), first);
    return count + " of " + n + " elements differ; first at " + Arrays.toString(index) + ": "
        + value(a, first) + " (bits 0x" + Long.toHexString(x[first]) + "), expected "
        + value(b, first) + " (bits 0x" + Long.toHexString(y[first]) + ")";
  }

  /** The element bit patterns in C order (floating types as raw bits, others as values). */
  private static long[] bits(INDArray a) {
    INDArray c = a.dup('c');
    int n = Math.toIntExact(c.length());
    long[] out = new long[n];
    DataType t = c.dataType();
    if (t == DataType.DOUBLE) {
      double[] v = c.data().asDouble();
      for (int i = 0; i < n; i++) {
        out[i] = Double.doubleToRawLongBits(v[i]);
      }
    } else if (t.isFPType()) {
      // float32 as stored; half and bfloat16 widen to float exactly and injectively
      float[] v = c.data().asFloat();
      for (int i = 0; i < n; i++) {
        out[i] = Float.floatToRawIntBits(v[i]) & 0xffffffffL;
      }
    } else {
      long[] v = c.data().asLong();
      System.arraycopy(v, 0, out, 0, n);
    }
    return out;
  }

  private static String value(INDArray a, int flatIndex) {
    INDArray c = a.dup('c');
    return a.dataType().isFPType() ? Double.toString(c.data().getDouble(flatIndex))
        : Long.toString(c.data().getLong(flatIndex));
  }
}
