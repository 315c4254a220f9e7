package dev.loraj.core.quant;

import java.util.Arrays;
import java.util.Objects;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.openblas.global.openblas_nolapack;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.shape.Shape;

/**
 * The fused matmuls of a {@link QuantizedWeight}: {@code x @ deq(W)^T} (a linear layer's forward)
 * and {@code dY @ deq(W)} (its input gradient), each dequantizing a chunk of W's rows at a time
 * into a {@link DequantBuffer} and calling OpenBLAS sgemm on it in place, so the float weight
 * never exists whole. Kept apart from the weight because it is native-memory plumbing (pointers,
 * leading dimensions, CBLAS flags) that neither quantization nor storage needs.
 */
final class QuantizedMatmul {
  private QuantizedMatmul() {}

  /**
   * {@code y = x @ deq(W)^T} written into {@code y} [n, out] (float32, c order, no offset): each
   * chunk of W's rows gives a column block of y, which sgemm writes in place with leading
   * dimension out, so no result array of its own exists.
   */
  static void matmulTransposedInto(QuantizedWeight w, INDArray x, DequantBuffer buf, INDArray y) {
    checked(w, x, y, true, xf -> forwardRows(w, xf, buf, y, 0, w.rows()));
  }

  /**
   * Checks {@code in} ([n, in] forward, [n, out] for the input gradient) and {@code out} (float32,
   * c order, no offset, [n, out] or [n, in]), then runs {@code body} on {@code in} as float32 in c
   * order without offset (a copy, freed after, when it is not already).
   */
  static void checked(QuantizedWeight w, INDArray in, INDArray out, boolean forward,
      java.util.function.Consumer<INDArray> body) {
    requireMatrix(forward ? "x" : "dy", in, forward ? w.cols() : w.rows(), forward ? "in" : "out");
    INDArray plain = plain(in);
    try {
      requireOutput(forward ? "y" : "dx", out, plain.size(0), forward ? w.rows() : w.cols());
      body.accept(plain);
    } finally {
      if (plain != in) {
        plain.close();
      }
    }
  }

  /**
   * Columns [from, to) of {@code y = x @ deq(W)^T}: rows [from, to) of W, a chunk at a time
   * ({@code x} float32 c order without offset, {@code y} checked by the caller).
   */
  static void forwardRows(QuantizedWeight w, INDArray x, DequantBuffer buf, INDArray y, int from, int to) {
    int rows = w.rows();
    int cols = w.cols();
    buf.checkFits(w);
    long n = x.size(0);
    FloatPointer px = new FloatPointer(x.data().addressPointer());
    FloatPointer py = new FloatPointer(y.data().addressPointer());
    int chunk = buf.chunkRows();
    for (int r0 = from; r0 < to; r0 += chunk) {
      int r = Math.min(chunk, to - r0);
      INDArray wRows = buf.load(w, r0, r); // [r, in], c order
      FloatPointer pw = new FloatPointer(wRows.data().addressPointer());
      py.position(r0);
      // y[:, r0:r0+r] = x [n, in] x wRows^T [in, r]
      openblas_nolapack.cblas_sgemm(ROW_MAJOR, NO_TRANS, TRANS, (int) n, r, cols, 1f, px, cols, pw, cols,
          0f, py, rows);
    }
  }

  /**
   * {@code dx = dY @ deq(W)} written into {@code dx} [n, in] (float32, c order, no offset): the
   * column block of dY that meets each chunk of W's rows is read in place (leading dimension out).
   */
  static void matmulInto(QuantizedWeight w, INDArray dy, DequantBuffer buf, INDArray dx) {
    checked(w, dy, dx, false, df -> backwardRows(w, df, buf, dx, 0, w.rows()));
  }

  /**
   * The part of {@code dx = dY @ deq(W)} that rows [from, to) of W contribute, written (not
   * added) into {@code dx} ({@code dy} float32 c order without offset, {@code dx} checked by the
   * caller).
   */
  static void backwardRows(QuantizedWeight w, INDArray dy, DequantBuffer buf, INDArray dx, int from, int to) {
    int rows = w.rows();
    int cols = w.cols();
    buf.checkFits(w);
    long n = dy.size(0);
    FloatPointer pd = new FloatPointer(dy.data().addressPointer());
    FloatPointer px = new FloatPointer(dx.data().addressPointer());
    int chunk = buf.chunkRows();
    for (int r0 = from; r0 < to; r0 += chunk) {
      int r = Math.min(chunk, to - r0);
      INDArray wRows = buf.load(w, r0, r); // [r, in], c order
      FloatPointer pw = new FloatPointer(wRows.data().addressPointer());
      pd.position(r0);
      // dx (+)= dY[:, r0:r0+r] [n, r] x wRows [r, in]
      openblas_nolapack.cblas_sgemm(ROW_MAJOR, NO_TRANS, NO_TRANS, (int) n, cols, r, 1f, pd, rows, pw, cols,
          r0 == from ? 0f : 1f, px, cols);
    }
  }

  // CBLAS enum values (cblas.h)
  private static final int ROW_MAJOR = 101;
  private static final int NO_TRANS = 111;
  private static final int TRANS = 112;

  /** {@code a} as float32 in c order without offset (itself if it is already). */
  private static INDArray plain(INDArray a) {
    boolean ok = a.dataType() == DataType.FLOAT && a.ordering() == 'c' && a.offset() == 0
        && Shape.hasDefaultStridesForShape(a);
    return ok ? a : a.castTo(DataType.FLOAT).dup('c');
  }

  private static void requireOutput(String name, INDArray out, long n, long width) {
    if (out.dataType() != DataType.FLOAT || out.ordering() != 'c' || out.offset() != 0
        || !Shape.hasDefaultStridesForShape(out) || out.rank() != 2 || out.size(0) != n || out.size(1) != width) {
      throw new IllegalArgumentException(name + ": expected a float32 c-order [" + n + ", " + width
          + "] array without offset, got " + out.dataType() + " " + out.ordering() + " "
          + Arrays.toString(out.shape()));
    }
  }


  private static void requireMatrix(String name, INDArray a, int cols, String dim) {
    Objects.requireNonNull(a, name);
    if (a.rank() != 2 || a.size(1) != cols) {
      throw new IllegalArgumentException(name + ": expected shape [n, " + cols + "] (" + dim
          + " = " + cols + "), got " + Arrays.toString(a.shape()));
    }
    if (!a.dataType().isFPType()) {
      throw new IllegalArgumentException(name + ": expected a floating-point array, got "
          + a.dataType());
    }
  }
}
