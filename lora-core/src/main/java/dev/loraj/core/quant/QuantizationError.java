package dev.loraj.core.quant;

import java.util.Arrays;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * Element-wise quantization error of {@code W - deq(q(W))}: Frobenius norm, relative Frobenius
 * norm and max-abs, computed chunk by chunk without materializing deq(W). The nuclear-norm error
 * used by QPiSSA (PiSSA paper, arXiv 2404.02948; docs/variants.md) needs an SVD and lives with the SVD helpers.
 */
public final class QuantizationError {
  /** Errors of one quantized weight against its original. */
  public record Summary(double frobenius, double relativeFrobenius, double maxAbs) {
  }

  private QuantizationError() {
  }

  /** {@code ||W - deq(Q)||_F}. */
  public static double frobenius(INDArray w, QuantizedWeight q) {
    return measure(w, q).frobenius();
  }

  /** {@code ||W - deq(Q)||_F / ||W||_F} (0 when W = 0 and the error is 0). */
  public static double relativeFrobenius(INDArray w, QuantizedWeight q) {
    return measure(w, q).relativeFrobenius();
  }

  /** {@code max |W - deq(Q)|}. */
  public static double maxAbs(INDArray w, QuantizedWeight q) {
    return measure(w, q).maxAbs();
  }

  /** All three errors in one pass over W. */
  public static Summary measure(INDArray w, QuantizedWeight q) {
    if (w.rank() != 2 || w.size(0) != q.rows() || w.size(1) != q.cols()) {
      throw new IllegalArgumentException("w: shape " + Arrays.toString(w.shape())
          + " does not match the quantized weight's " + Arrays.toString(q.shape()));
    }
    int cols = q.cols();
    int chunk = Math.max(1, Math.min(q.rows(), (1 << 20) / cols));
    float[] deq = new float[chunk * cols];
    double err2 = 0;
    double ref2 = 0;
    double max = 0;
    for (int r0 = 0; r0 < q.rows(); r0 += chunk) {
      int r = Math.min(chunk, q.rows() - r0);
      q.dequantizeRows(r0, r, deq);
      float[] orig = w.get(NDArrayIndex.interval(r0, r0 + r), NDArrayIndex.all())
          .castTo(DataType.FLOAT).dup('c').data().asFloat();
      for (int i = 0; i < r * cols; i++) {
        double d = (double) orig[i] - deq[i];
        err2 += d * d;
        ref2 += (double) orig[i] * orig[i];
        max = Math.max(max, Math.abs(d));
      }
    }
    double fro = Math.sqrt(err2);
    double rel = ref2 == 0 ? (err2 == 0 ? 0 : Double.POSITIVE_INFINITY) : fro / Math.sqrt(ref2);
    return new Summary(fro, rel, max);
  }
}
