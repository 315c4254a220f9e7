package dev.loraj.core.graph;

import java.util.List;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.ops.impl.reduce.Mmul;

/**
 * {@code y = x W^T} (or {@code x W} when the weight is stored [in, out]) for a frozen weight W.
 *
 * <p>It runs libnd4j's {@code matmul} unchanged; only its derivative differs: the backward pass
 * yields the input gradient {@code dY W} alone. ND4J's own matmul backward always computes
 * {@code dW} too, which for a frozen weight is pure waste (a full-size GEMM per site and step:
 * see ARCHITECTURE.md, "frozen weights still get dW computed"). The gradient graph is built from
 * this Java object, so subclassing is enough; execution still goes through the native op.
 */
public final class FrozenMatMul extends Mmul {

  private boolean weightTransposed;

  /** For SameDiff's reflection; not for use. */
  public FrozenMatMul() {}

  /**
   * @param x [n, in]
   * @param weight [out, in] when {@code weightTransposed} (torch Linear layout), else [in, out]
   */
  public FrozenMatMul(SameDiff sd, SDVariable x, SDVariable weight, boolean weightTransposed) {
    super(sd, x, weight, false, weightTransposed, false);
    this.weightTransposed = weightTransposed;
  }

  @Override
  public List<SDVariable> doDiff(List<SDVariable> gradients) {
    SDVariable dy = gradients.get(0); // [n, out]
    SDVariable w = arg(1);
    // y = x W^T  ->  dx = dy W      ([n, out] x [out, in])
    // y = x W    ->  dx = dy W^T    ([n, out] x [out, in]^T)
    SDVariable dx = sameDiff.mmul(dy, w, false, !weightTransposed, false);
    return List.of(dx); // one gradient: the weight is a constant and gets none
  }

  /** Convenience: the output variable of a new frozen matmul. */
  public static SDVariable apply(SameDiff sd, SDVariable x, SDVariable weight, boolean weightTransposed) {
    return new FrozenMatMul(sd, x, weight, weightTransposed).outputVariable();
  }
}
