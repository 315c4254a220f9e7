package dev.loraj.variants.svd;

import dev.loraj.core.adapter.SiteInit;
import dev.loraj.core.linalg.Svd;
import dev.loraj.core.linalg.SvdResult;
import dev.loraj.core.lora.LoraInit;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.nd4j.linalg.ops.transforms.Transforms;

/**
 * The SVD init shared by PiSSA (Meng et al., arXiv 2404.02948, Sec. 3) and MiLoRA (Wang et al.,
 * arXiv 2406.09044, Sec. 3): one strategy with a {@link Slice} parameter.
 *
 * <pre>
 *   U S Vh = svd(W)                      W [out, in]
 *   keep r triplets: PRINCIPAL = the largest (PiSSA), MINOR = the smallest (MiLoRA)
 *   S_r /= s                             so that s B A is exactly the kept SVD term
 *   A = diag(sqrt(S_r)) Vh_r             [r, in]
 *   B = U_r diag(sqrt(S_r))              [out, r]
 *   W_res = W - s B A                    replaces the frozen base (SiteInit.rewriteBase)
 * </pre>
 *
 * The output is unchanged at init for any alpha: {@code W_res + s B A = W} up to float rounding.
 * Dividing S by s follows PEFT's {@code pissa_init}; both papers run with alpha = r (s = 1),
 * where it changes nothing. The minor slice keeps descending order (as MiLoRA's
 * {@code U[:, -r:]}).
 *
 * <p>{@link SvdMethod#RANDOMIZED} (fast PiSSA, PEFT's {@code pissa_niter_k}) computes only the
 * top r triplets; it is accepted only with the principal slice: the smallest singular directions
 * are exactly what a randomized range finder does not capture. Its Gaussian test matrix is
 * seeded from {@link SiteInit#seed()}. The reconstruction stays exact either way (W_res is
 * computed from the B A actually used); only how close s B A is to the true top-r term varies.
 */
public final class SvdInit implements LoraInit {

  /** Which end of the spectrum the adapter takes. */
  public enum Slice {
    /** The r largest singular triplets (PiSSA). */
    PRINCIPAL,
    /** The r smallest singular triplets (MiLoRA). */
    MINOR
  }

  private final Slice slice;
  private final SvdMethod method;
  private final int niter;

  /**
   * @param niter subspace iterations of the randomized SVD (ignored by the exact one)
   * @throws IllegalArgumentException for MINOR with RANDOMIZED, or a negative niter
   */
  public SvdInit(Slice slice, SvdMethod method, int niter) {
    if (slice == Slice.MINOR && method == SvdMethod.RANDOMIZED) {
      throw new IllegalArgumentException(
          "svd = randomized with the minor slice (MiLoRA): a randomized SVD approximates only the"
              + " largest singular triplets, not the smallest; use svd = exact");
    }
    if (niter < 0) {
      throw new IllegalArgumentException("niter = " + niter + ": must be >= 0");
    }
    this.slice = slice;
    this.method = method;
    this.niter = niter;
  }

  /** PiSSA with exact SVD. */
  public static SvdInit principal() {
    return new SvdInit(Slice.PRINCIPAL, SvdMethod.EXACT, 0);
  }

  /** MiLoRA (exact SVD). */
  public static SvdInit minor() {
    return new SvdInit(Slice.MINOR, SvdMethod.EXACT, 0);
  }

  public Slice slice() {
    return slice;
  }

  public SvdMethod method() {
    return method;
  }

  public int niter() {
    return niter;
  }

  @Override
  public void initialize(INDArray a, INDArray b, double scaling, SiteInit site) {
    INDArray w = site.baseWeight(); // [out, in]
    int r = (int) a.size(0);
    SvdResult kept = method == SvdMethod.RANDOMIZED
        ? Svd.randomized(w, r, niter, site.seed())
        : slice(Svd.exact(w), r, slice);
    setFactors(a, b, kept, scaling);
    site.rewriteBase(residual(w, a, b, scaling));
  }

  /** The r triplets of {@code full} at the chosen end, in descending order, as copies. */
  static SvdResult slice(SvdResult full, int r, Slice slice) {
    if (slice == Slice.PRINCIPAL) {
      return full.top(r);
    }
    int k = full.rank();
    if (r > k) {
      throw new IllegalArgumentException("r = " + r + " exceeds the " + k + " singular triplets");
    }
    return new SvdResult(
        full.u().get(NDArrayIndex.all(), NDArrayIndex.interval(k - r, k)).dup('c'), // [out, r]
        full.s().get(NDArrayIndex.interval(k - r, k)).dup(), // [r]
        full.vt().get(NDArrayIndex.interval(k - r, k), NDArrayIndex.all()).dup('c')); // [r, in]
  }

  /** {@code A = diag(sqrt(S/s)) Vh}, {@code B = U diag(sqrt(S/s))}, written into a and b. */
  static void setFactors(INDArray a, INDArray b, SvdResult t, double scaling) {
    INDArray root = Transforms.sqrt(t.s().div(scaling), false); // [r]
    a.assign(t.vt().mulColumnVector(root.reshape(root.length(), 1))); // [r, in], row i * root_i
    b.assign(t.u().mulRowVector(root)); // [out, r], column j * root_j
  }

  /** {@code W - s B A}: [out, r] x [r, in]. */
  static INDArray residual(INDArray w, INDArray a, INDArray b, double scaling) {
    return w.sub(b.mmul(a).muli(scaling));
  }
}
