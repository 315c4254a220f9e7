package dev.loraj.core.linalg;

import static org.bytedeco.openblas.global.openblas.LAPACKE_sgesdd;
import static org.bytedeco.openblas.global.openblas.LAPACK_ROW_MAJOR;

import java.util.Random;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Singular value decompositions of FLOAT matrices.
 *
 * <ul>
 *   <li>{@link #exact}: LAPACK's divide-and-conquer SVD ({@code sgesdd}, jobz='S') on the
 *       OpenBLAS bundled with ND4J. libnd4j's own {@code svd} op returns wrong results from
 *       n=16 and hangs from n=32 in 1.0.0-M2.1, so it is not used.
 *   <li>{@link #randomized}: the randomized range finder with subspace iteration of Halko,
 *       Martinsson and Tropp, "Finding structure with randomness" (SIAM Review 2011,
 *       arXiv:0909.4061), Algorithm 4.4 followed by Algorithm 5.1; the same scheme as
 *       {@code torch.svd_lowrank} that PEFT's fast PiSSA init ({@code pissa_niter_k}) calls with
 *       no oversampling.
 * </ul>
 */
public final class Svd {
  private Svd() {}

  /**
   * Thin SVD {@code A = U diag(S) Vt}.
   *
   * @param a FLOAT {@code [m, n]}, finite; not modified
   * @return u {@code [m, k]}, s {@code [k]} descending, vt {@code [k, n]}, {@code k = min(m, n)}
   * @throws IllegalArgumentException if a is not a finite non-empty FLOAT matrix
   * @throws LapackException if sgesdd does not converge
   */
  public static SvdResult exact(INDArray a) {
    float[] work = Lapack.rowMajorCopy(a, "a");
    int m = Lapack.intDim(a.rows(), "a rows");
    int n = Lapack.intDim(a.columns(), "a columns");
    int k = Math.min(m, n);
    float[] s = new float[k];
    float[] u = new float[m * k]; // [m, k], ldu = k
    float[] vt = new float[k * n]; // [k, n], ldvt = n
    int info = Lapack.call(
        () -> LAPACKE_sgesdd(LAPACK_ROW_MAJOR, (byte) 'S', m, n, work, n, s, u, k, vt, n));
    Lapack.check(info, "sgesdd", "the bidiagonal SVD did not converge");
    return new SvdResult(Lapack.matrix(u, m, k), Lapack.vector(s), Lapack.matrix(vt, k, n));
  }

  /**
   * Singular values only, computed in double precision ({@code dgesdd}, jobz 'N'): for norms
   * such as the nuclear norm, where float {@code sgesdd} failed to converge on a real residual
   * (a quantization error of a MiniLM matrix).
   *
   * @return the min(m, n) singular values, descending
   */
  public static double[] singularValues(INDArray a) {
    Lapack.rowMajorCopy(a, "a"); // validates: finite, non-empty FLOAT matrix
    int m = Lapack.intDim(a.rows(), "a rows");
    int n = Lapack.intDim(a.columns(), "a columns");
    double[] work = a.castTo(org.nd4j.linalg.api.buffer.DataType.DOUBLE).dup('c').data().asDouble();
    double[] s = new double[Math.min(m, n)];
    // row-major LAPACKE checks ldvt >= n even when no vectors are computed
    int info = Lapack.call(() -> org.bytedeco.openblas.global.openblas.LAPACKE_dgesdd(
        LAPACK_ROW_MAJOR, (byte) 'N', m, n, work, n, s, new double[1], 1, new double[n], n));
    Lapack.check(info, "dgesdd", "the bidiagonal SVD did not converge");
    return s;
  }

  /**
   * Top-{@code rank} SVD by randomized subspace iteration without oversampling (the setting of
   * PEFT's fast PiSSA). See {@link #randomized(INDArray, int, int, int, long)}.
   */
  public static SvdResult randomized(INDArray a, int rank, int niter, long seed) {
    return randomized(a, rank, niter, 0, seed);
  }

  /**
   * Approximate top-{@code rank} SVD (Halko et al. 2011, Alg. 4.4 + 5.1):
   *
   * <pre>
   *   Omega ~ N(0, 1)            [n, l],  l = min(rank + oversample, m, n)
   *   Q = qr(A Omega).Q          [m, l]
   *   repeat niter times:  Q' = qr(A^T Q).Q;  Q = qr(A Q').Q
   *   B = Q^T A                  [l, n]
   *   B = Ub S Vt (exact);  U = Q Ub;  keep the first rank triplets
   * </pre>
   *
   * <p>The QR after every product keeps the basis well conditioned (plain power iteration would
   * lose the smaller singular directions to rounding). Error decays like
   * {@code (s_{l+1}/s_rank)^(2 niter + 1)}: a few iterations suffice for decaying spectra.
   *
   * @param a          FLOAT {@code [m, n]}, finite; not modified
   * @param rank       number of triplets returned, {@code 1 <= rank <= min(m, n)}
   * @param niter      subspace iterations, {@code >= 0} (PEFT's fast PiSSA: user-chosen, e.g. 4)
   * @param oversample extra basis columns, {@code >= 0} (Halko et al. suggest 5-10; PEFT: 0)
   * @param seed       seed of the Gaussian test matrix ({@link java.util.Random})
   * @return u {@code [m, rank]}, s {@code [rank]} descending, vt {@code [rank, n]}
   */
  public static SvdResult randomized(INDArray a, int rank, int niter, int oversample, long seed) {
    Lapack.requireMatrix(a, "a");
    long m = a.rows();
    long n = a.columns();
    long k = Math.min(m, n);
    if (rank < 1 || rank > k) {
      throw new IllegalArgumentException(
          "rank must be in [1, min(m, n) = " + k + "] for a of shape [" + m + ", " + n
              + "], got " + rank);
    }
    if (niter < 0) {
      throw new IllegalArgumentException("niter must be >= 0, got " + niter);
    }
    if (oversample < 0) {
      throw new IllegalArgumentException("oversample must be >= 0, got " + oversample);
    }
    Lapack.requireFinite(a, "a");
    int l = (int) Math.min((long) rank + oversample, k);

    INDArray omega = gaussian(n, l, seed); // [n, l]
    INDArray q = Qr.reduced(a.mmul(omega)).q(); // qr([m, n] x [n, l]) -> [m, l]
    INDArray at = a.transpose(); // [n, m] view
    for (int i = 0; i < niter; i++) {
      INDArray qn = Qr.reduced(at.mmul(q)).q(); // qr([n, m] x [m, l]) -> [n, l]
      q = Qr.reduced(a.mmul(qn)).q(); // qr([m, n] x [n, l]) -> [m, l]
    }
    INDArray b = q.transpose().mmul(a); // [l, m] x [m, n] -> [l, n]
    SvdResult small = exact(b); // ub [l, l], s [l], vt [l, n]
    INDArray u = q.mmul(small.u()); // [m, l] x [l, l] -> [m, l]
    SvdResult full = new SvdResult(u, small.s(), small.vt());
    return l == rank ? full : full.top(rank);
  }

  /** Standard normal {@code [rows, cols]} from {@link Random} (its algorithm is specified). */
  private static INDArray gaussian(long rows, int cols, long seed) {
    Random rng = new Random(seed);
    float[] data = new float[Math.multiplyExact(Lapack.intDim(rows, "a columns"), cols)];
    for (int i = 0; i < data.length; i++) {
      data[i] = (float) rng.nextGaussian();
    }
    return Lapack.matrix(data, rows, cols);
  }
}
