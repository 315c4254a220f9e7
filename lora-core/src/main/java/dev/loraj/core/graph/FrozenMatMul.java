package dev.loraj.core.graph;

import java.util.List;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.ops.impl.reduce.Mmul;

/**
 * {@code y = x W^T} (or {@code x W} when the weight is stored [in, out]) for a frozen weight W,
 * whose backward pass yields only the input gradient {@code dY W}.
 *
 * <p>ND4J's matmul backward always computes {@code dW} as well: for a frozen weight a full-size
 * GEMM per site and step, pure waste (docs/engine.md, "Frozen weights").
 * SameDiff builds its gradient graph from <em>clones</em> of the ops, re-created by op name, so a
 * plain subclass would be lost. This class therefore replaces the Java class that SameDiff maps
 * to libnd4j's {@code matmul} (see {@link #register()}); it behaves exactly like {@link Mmul}
 * unless the op carries the frozen marker, a fourth integer argument that the native kernel
 * ignores (it reads transposeA/B/result only) and that survives the cloning.
 */
public final class FrozenMatMul extends Mmul {

  /** Fourth integer argument: the weight (second input) is frozen. */
  static final long FROZEN = 7_351;

  /** For SameDiff's reflection: stands in for every {@code matmul} op. */
  public FrozenMatMul() {}

  private FrozenMatMul(SameDiff sd, SDVariable x, SDVariable weight, boolean weightTransposed) {
    super(sd, x, weight, false, weightTransposed, false);
    addIArgument(FROZEN);
  }

  /**
   * @param x [n, in]
   * @param weight [out, in] when {@code weightTransposed} (torch Linear layout), else [in, out]
   * @return [n, out]
   */
  public static SDVariable apply(SameDiff sd, SDVariable x, SDVariable weight, boolean weightTransposed) {
    register();
    return new FrozenMatMul(sd, x, weight, weightTransposed).outputVariable();
  }

  boolean frozen() {
    long[] i = iArgs();
    return i != null && i.length > 3 && i[3] == FROZEN;
  }

  @Override
  public List<SDVariable> doDiff(List<SDVariable> gradients) {
    if (!frozen()) {
      return super.doDiff(gradients);
    }
    boolean weightTransposed = iArgs()[1] != 0;
    SDVariable dy = gradients.get(0); // [n, out]
    // y = x W^T  ->  dx = dy W      ([n, out] x [out, in])
    // y = x W    ->  dx = dy W^T    ([n, out] x [in, out]^T)
    SDVariable dx = sameDiff.mmul(dy, arg(1), false, !weightTransposed, false);
    return List.of(dx); // one gradient: the weight is a constant and gets none
  }

  /** Maps libnd4j's {@code matmul} to this class in ND4J's op registry (idempotent). */
  public static void register() {
    OpOverrides.register("matmul", FrozenMatMul.class);
  }
}
