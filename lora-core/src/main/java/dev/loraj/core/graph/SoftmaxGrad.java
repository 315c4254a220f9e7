package dev.loraj.core.graph;

import java.util.List;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.ops.impl.transforms.custom.SoftMax;

/**
 * Softmax whose backward pass is written out from its output y:
 * {@code dx = y * (dy - sum(dy * y, axis))} (the softmax Jacobian applied to dy), four
 * elementwise/reduce ops that reuse the forward output.
 *
 * <p>libnd4j's {@code softmax_bp} recomputes the softmax and took 2.5x the forward's time on the
 * attention probabilities ([8, 12, 128, 128]: 38 ms vs 15 ms per call, {@code lora bench step
 * --arch bert --profile}). Registered over libnd4j's {@code softmax} (as {@link FrozenMatMul} is
 * over {@code matmul}), so every softmax SameDiff builds or clones uses it; the forward pass is
 * ND4J's own. {@code -Dloraj.softmaxGrad=false} keeps ND4J's backward (before/after measurements).
 */
public final class SoftmaxGrad extends SoftMax {

  static final boolean ENABLED = !"false".equals(System.getProperty("loraj.softmaxGrad"));

  /** For SameDiff's reflection: stands in for every {@code softmax} op. */
  public SoftmaxGrad() {}

  private SoftmaxGrad(SameDiff sd, SDVariable x, int dimension) {
    super(sd, x, dimension);
  }

  /** Softmax of {@code x} along {@code dimension} (negative counts from the end). */
  public static SDVariable apply(SameDiff sd, SDVariable x, int dimension) {
    if (!ENABLED) {
      return sd.nn().softmax(x, dimension);
    }
    register();
    return new SoftmaxGrad(sd, x, dimension).outputVariable();
  }

  private int axis() {
    long[] i = iArgs();
    return i != null && i.length > 0 ? (int) i[0] : -1;
  }

  @Override
  public List<SDVariable> doDiff(List<SDVariable> gradients) {
    if (!ENABLED) {
      return super.doDiff(gradients);
    }
    SDVariable y = outputVariable();
    SDVariable dy = gradients.get(0);
    SDVariable dot = dy.mul(y).sum(true, axis()); // [.., 1]
    return List.of(dy.sub(dot).mul(y));
  }

  /** Maps libnd4j's {@code softmax} to this class in ND4J's op registry (idempotent). */
  public static void register() {
    OpOverrides.register("softmax", SoftmaxGrad.class);
  }
}
