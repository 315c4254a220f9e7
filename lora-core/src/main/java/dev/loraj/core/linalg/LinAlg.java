package dev.loraj.core.linalg;

import static org.bytedeco.openblas.global.openblas.LAPACKE_sgesv;
import static org.bytedeco.openblas.global.openblas.LAPACKE_sgetrf;
import static org.bytedeco.openblas.global.openblas.LAPACKE_sgetri;
import static org.bytedeco.openblas.global.openblas.LAPACK_ROW_MAJOR;

import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Dense inverse and linear solve through LAPACK's LU with partial pivoting ({@code sgetrf},
 * {@code sgetri}, {@code sgesv}). CorDA (arXiv 2406.05223, Sec. 3.2) needs the inverse of the
 * damped input covariance {@code C' = C + d I}; prefer {@link #solve} where only
 * {@code C'^-1 X} is needed.
 */
public final class LinAlg {
  private LinAlg() {}

  /**
   * {@code A^-1} of a square FLOAT matrix.
   *
   * @param a FLOAT {@code [n, n]}, finite; not modified
   * @throws LapackException if a is exactly singular (info = the 1-based index of the zero pivot)
   */
  public static INDArray inverse(INDArray a) {
    float[] lu = Lapack.rowMajorCopy(a, "a");
    int n = requireSquare(a, "a");
    int[] ipiv = new int[n];
    int info = Lapack.call(() -> LAPACKE_sgetrf(LAPACK_ROW_MAJOR, n, n, lu, n, ipiv));
    Lapack.check(info, "sgetrf", "matrix is singular: U(" + info + "," + info + ") is exactly 0");
    info = Lapack.call(() -> LAPACKE_sgetri(LAPACK_ROW_MAJOR, n, lu, n, ipiv));
    Lapack.check(info, "sgetri", "matrix is singular: U(" + info + "," + info + ") is exactly 0");
    return Lapack.matrix(lu, n, n);
  }

  /**
   * X with {@code A X = B}.
   *
   * @param a FLOAT {@code [n, n]}, finite; not modified
   * @param b FLOAT {@code [n, nrhs]}, finite; not modified
   * @return X {@code [n, nrhs]}
   * @throws LapackException if a is exactly singular
   */
  public static INDArray solve(INDArray a, INDArray b) {
    float[] lu = Lapack.rowMajorCopy(a, "a");
    int n = requireSquare(a, "a");
    float[] x = Lapack.rowMajorCopy(b, "b");
    if (b.rows() != n) {
      throw new IllegalArgumentException(
          "b must have " + n + " rows to match a [" + n + ", " + n + "], got " + b.rows());
    }
    int nrhs = Lapack.intDim(b.columns(), "b columns");
    int[] ipiv = new int[n];
    int info = Lapack.call(() -> LAPACKE_sgesv(LAPACK_ROW_MAJOR, n, nrhs, lu, n, ipiv, x, nrhs));
    Lapack.check(info, "sgesv", "matrix is singular: U(" + info + "," + info + ") is exactly 0");
    return Lapack.matrix(x, n, nrhs);
  }

  private static int requireSquare(INDArray a, String name) {
    if (a.rows() != a.columns()) {
      throw new IllegalArgumentException(
          name + " must be square, got shape [" + a.rows() + ", " + a.columns() + "]");
    }
    return Lapack.intDim(a.rows(), name + " rows");
  }
}
