package dev.loraj.core.linalg;

import static org.bytedeco.openblas.global.openblas.LAPACKE_sgeqrf;
import static org.bytedeco.openblas.global.openblas.LAPACKE_sorgqr;
import static org.bytedeco.openblas.global.openblas.LAPACK_ROW_MAJOR;

import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Reduced QR decomposition through LAPACK's Householder QR ({@code sgeqrf}, then {@code sorgqr}
 * to form Q), on the OpenBLAS bundled with ND4J. libnd4j's own QR takes ~40 s at 1024x1024.
 *
 * <p><b>Sign convention.</b> {@link #reduced} returns LAPACK's raw Householder result, the same
 * convention as {@code torch.linalg.qr} and {@code numpy.linalg.qr} (both call geqrf/orgqr):
 * diagonal entries of R may be negative. PEFT's OLoRA init uses torch's QR, so this is the
 * variant that reproduces it. {@link #reducedPositive} flips signs so that {@code diag(R) >= 0},
 * which makes the factorization unique for a full-rank A.
 */
public final class Qr {
  private Qr() {}

  /**
   * {@code A = Q R} with {@code Q [m, k]} having orthonormal columns and {@code R [k, n]} upper
   * triangular, {@code k = min(m, n)}; LAPACK sign convention (see class doc).
   *
   * @param a FLOAT {@code [m, n]}, finite; not modified
   */
  public static QrResult reduced(INDArray a) {
    float[] work = Lapack.rowMajorCopy(a, "a");
    int m = Lapack.intDim(a.rows(), "a rows");
    int n = Lapack.intDim(a.columns(), "a columns");
    int k = Math.min(m, n);
    float[] tau = new float[k];

    // Householder vectors below the diagonal, R on and above it; lda = n (row-major).
    int info = Lapack.call(() -> LAPACKE_sgeqrf(LAPACK_ROW_MAJOR, m, n, work, n, tau));
    Lapack.check(info, "sgeqrf", "unexpected positive info");

    float[] r = new float[k * n]; // [k, n], zero below the diagonal
    for (int i = 0; i < k; i++) {
      System.arraycopy(work, i * n + i, r, i * n + i, n - i);
    }

    // Q = first k columns of H_1 ... H_k, formed in place in the leading [m, k] block.
    info = Lapack.call(() -> LAPACKE_sorgqr(LAPACK_ROW_MAJOR, m, k, k, work, n, tau));
    Lapack.check(info, "sorgqr", "unexpected positive info");
    float[] q;
    if (k == n) {
      q = work; // [m, n] == [m, k]
    } else {
      q = new float[m * k];
      for (int i = 0; i < m; i++) {
        System.arraycopy(work, i * n, q, i * k, k);
      }
    }
    return new QrResult(Lapack.matrix(q, m, k), Lapack.matrix(r, k, n));
  }

  /**
   * As {@link #reduced}, then column j of Q and row j of R are negated wherever
   * {@code R[j, j] < 0}, so that {@code diag(R) >= 0}. Q R is unchanged.
   */
  public static QrResult reducedPositive(INDArray a) {
    QrResult qr = reduced(a);
    INDArray q = qr.q(); // [m, k]
    INDArray r = qr.r(); // [k, n]
    for (int j = 0; j < r.rows(); j++) {
      if (r.getFloat(j, j) < 0) {
        q.getColumn(j).negi();
        r.getRow(j).negi();
      }
    }
    return qr;
  }
}
