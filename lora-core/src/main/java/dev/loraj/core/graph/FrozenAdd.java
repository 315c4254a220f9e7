package dev.loraj.core.graph;

import java.util.List;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.autodiff.samediff.VariableType;
import org.nd4j.linalg.api.ops.impl.transforms.pairwise.arithmetic.AddOp;

/**
 * {@code y = x + b} (broadcasting {@code b} over {@code x}) where {@code b} is a SameDiff constant:
 * a frozen bias of a linear layer or LayerNorm. The backward pass is {@code dx = dy} (one copy).
 *
 * <p>ND4J's {@code add_bp} always computes both gradients, and the one for a broadcast bias is a
 * column sum of the full-size gradient: in the BERT LoRA step ({@code lora bench step --arch bert
 * --profile}) 4.4 ms per call on [1024, 1536], against about 0.5 ms for the copy. Same mechanism
 * as {@link FrozenMultiply}: this class replaces the Java class SameDiff maps to libnd4j's
 * {@code add} and behaves exactly like {@link AddOp} unless the op carries the frozen marker, an
 * integer argument the broadcastable kernel ignores. {@code -Dloraj.frozenAdd=false} builds plain
 * adds (before/after measurements).
 */
public final class FrozenAdd extends AddOp {

  static final long FROZEN = 7_353;
  /** Marker of a trainable row bias [d] broadcast over x [n, d]: its gradient as column sums. */
  static final long ROW_BIAS = 7_358;

  static final boolean ENABLED = !"false".equals(System.getProperty("loraj.frozenAdd"));

  /** For SameDiff's reflection: stands in for every {@code add} op. */
  public FrozenAdd() {}

  private FrozenAdd(SameDiff sd, SDVariable x, SDVariable b, long marker) {
    super(sd, x, b);
    addIArgument(marker);
  }

  /**
   * {@code x + b}, with no gradient for {@code b} when it is a SameDiff constant (a frozen
   * weight); {@code x} must have the output's shape.
   */
  public static SDVariable byWeight(SameDiff sd, SDVariable x, SDVariable b) {
    if (ENABLED && b.getVariableType() == VariableType.CONSTANT) {
      return apply(sd, x, b);
    }
    if (ENABLED && VectorKernelOp.columnSumGradient(x, b)) {
      // trainable bias [d] over rows: its gradient as column sums instead of add_bp's reduction
      register();
      return new FrozenAdd(sd, x, b, ROW_BIAS).outputVariable();
    }
    return x.add(b);
  }

  /**
   * {@code x + b} where {@code b} needs no gradient (a constant, or a value behind a
   * {@link GradientCut}); {@code x} must have the output's shape.
   */
  public static SDVariable apply(SameDiff sd, SDVariable x, SDVariable b) {
    register();
    return new FrozenAdd(sd, x, b, FROZEN).outputVariable();
  }

  boolean frozen() {
    return OpOverrides.endsWith(iArgs(), FROZEN);
  }

  @Override
  public List<SDVariable> doDiff(List<SDVariable> gradients) {
    if (OpOverrides.endsWith(iArgs(), ROW_BIAS)) {
      SDVariable dy = gradients.get(0);
      SDVariable db = VectorKernelOp.columnSums(sameDiff, dy, null);
      if (db != null) {
        return List.of(sameDiff.identity(dy), db);
      }
      return super.doDiff(gradients);
    }
    if (!frozen()) {
      return super.doDiff(gradients);
    }
    // a new variable: SameDiff renames the returned gradient after the input it belongs to
    return List.of(sameDiff.identity(gradients.get(0)));
  }

  /** Maps libnd4j's {@code add} to this class in ND4J's op registry (idempotent). */
  public static void register() {
    OpOverrides.register("add", FrozenAdd.class);
  }
}
