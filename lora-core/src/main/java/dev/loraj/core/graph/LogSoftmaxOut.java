package dev.loraj.core.graph;

import java.util.List;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.ops.impl.transforms.pairwise.arithmetic.SubOp;

/**
 * Row-wise log-softmax {@code y = x - lse(x)} whose backward pass is written out:
 * {@code dx = dy - p * sum(dy, 1)} with {@code p = e / s} reused from the forward pass.
 *
 * <p>The forward pass is elementary: {@code m = max(x)}, {@code e = exp(x - m)},
 * {@code s = sum(e)}, {@code lse = log(s) + m}; lse reaches the last op, {@code x - lse} (this
 * class), through a {@link GradientCut} ([rows, 1]: a small copy), so none of those ops is
 * differentiated, and this op's backward pass alone gives x's gradient. Differentiating the
 * elementary form instead re-ran exp and carried the gradient back through the subtractions, the
 * sum and the max: on a Llama LM head's [1024, 32000] logits about ten full-size backward passes
 * where this needs four (Llama LoRA step 2165, 2198 -> 2004, 2003 ms, {@code lora bench step
 * --arch llama}). Same mechanism as
 * {@link FrozenMultiply}: registered over libnd4j's {@code subtract}, it behaves exactly like
 * {@link SubOp} unless it carries the marker; the names of {@code e} and {@code s} travel as
 * string arguments, which SameDiff's clone for the gradient graph keeps.
 * {@code -Dloraj.logSoftmaxGrad=false} builds the plain elementary form (before/after runs).
 */
public final class LogSoftmaxOut extends SubOp {

  static final long MARKER = 7_354;

  public static final boolean ENABLED = !"false".equals(System.getProperty("loraj.logSoftmaxGrad"));

  /** For SameDiff's reflection: stands in for every {@code subtract} op. */
  public LogSoftmaxOut() {}

  private LogSoftmaxOut(SameDiff sd, SDVariable x, SDVariable lse, SDVariable e, SDVariable s) {
    super(sd, x, lse);
    addIArgument(MARKER);
    addSArgument(e.name(), s.name());
  }

  /** Log-softmax of the rows of {@code x} [rows, classes]. */
  public static SDVariable apply(SameDiff sd, SDVariable x) {
    if (!ENABLED) {
      SDVariable shifted = x.sub(x.max(true, 1)); // the max is a constant shift: gradient-neutral
      return shifted.sub(sd.math().log(sd.math().exp(shifted).sum(true, 1)));
    }
    OpOverrides.register("subtract", LogSoftmaxOut.class);
    SDVariable m = x.max(true, 1);
    SDVariable e = VectorKernelOp.exp(sd, x.sub(m)); // not differentiated: only the cut uses it
    SDVariable s = e.sum(true, 1);
    SDVariable lse = GradientCut.of(sd, sd.math().log(s).add(m)); // [rows, 1]: a small copy
    return new LogSoftmaxOut(sd, x, lse, e, s).outputVariable();
  }

  private boolean marked() {
    return OpOverrides.endsWith(iArgs(), MARKER);
  }

  @Override
  public List<SDVariable> doDiff(List<SDVariable> gradients) {
    if (!marked()) {
      return super.doDiff(gradients);
    }
    SDVariable dy = gradients.get(0);
    String[] names = sArgs();
    SDVariable p = sameDiff.getVariable(names[0]).div(sameDiff.getVariable(names[1])); // softmax
    SDVariable dx = dy.sub(p.mul(dy.sum(true, 1)));
    return List.of(dx); // lse comes from the cut copy: it is not in the gradient graph
  }
}
