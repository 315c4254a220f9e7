package dev.loraj.variants.svd;

import dev.loraj.core.adapter.SiteInit;
import dev.loraj.core.linalg.Qr;
import dev.loraj.core.linalg.QrResult;
import dev.loraj.core.lora.LoraInit;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * OLoRA's orthonormal init (Büyükakyüz, arXiv 2406.01775; PEFT {@code olora_init}):
 *
 * <pre>
 *   Q R = qr(W)          W [out, in] as stored by torch (not W^T); Q [out, k], R [k, in], k = min
 *   B = Q[:, :r]         [out, r], orthonormal columns
 *   A = R[:r, :]         [r, in], upper trapezoidal
 *   W_res = W - s B A    no division by s (unlike PiSSA): s B A = s Q_r R_r
 * </pre>
 *
 * <p><b>Orientation.</b> The QR is of the [out, in] weight itself, as PEFT's
 * {@code torch.linalg.qr(weight)} on {@code nn.Linear.weight}: then {@code Q[:, :r]} already has
 * B's shape [out, r] and {@code R[:r]} has A's shape [r, in], with no transpose. Factoring W^T
 * instead would give orthonormal rows of A and a different subspace. The column span of B is the
 * span of W's first r columns (the first r input features), which is what this QR computes; the
 * paper's "orthonormal basis" claim is about B. Signs follow LAPACK/torch (R's diagonal may be
 * negative, {@link Qr#reduced}), so B and A match PEFT's entry for entry.
 *
 * <p>Since r ≤ k, the first r columns of Q and rows of R are those of the full QR; note that
 * {@code B A} is not a best rank-r approximation, so with s ≠ 1 the residual differs from W by
 * {@code s Q_r R_r}, a visible part of W; PEFT's default alpha = r keeps s = 1.
 */
public final class OloraInit implements LoraInit {

  public static final OloraInit INSTANCE = new OloraInit();

  private OloraInit() {}

  @Override
  public void initialize(INDArray a, INDArray b, double scaling, SiteInit site) {
    INDArray w = site.baseWeight(); // [out, in]
    int r = (int) a.size(0);
    QrResult qr = Qr.reduced(w); // q [out, k], r [k, in]
    b.assign(qr.q().get(NDArrayIndex.all(), NDArrayIndex.interval(0, r))); // [out, r]
    a.assign(qr.r().get(NDArrayIndex.interval(0, r), NDArrayIndex.all())); // [r, in]
    site.rewriteBase(SvdInit.residual(w, a, b, scaling));
  }
}
