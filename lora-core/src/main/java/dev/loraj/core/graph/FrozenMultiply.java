package dev.loraj.core.graph;

import java.util.List;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.autodiff.samediff.VariableType;
import org.nd4j.linalg.api.ops.impl.transforms.pairwise.arithmetic.MulOp;

/**
 * {@code y = x * w} (broadcasting {@code w} over {@code x}) where {@code w} needs no gradient: a
 * frozen LayerNorm/RMSNorm gain, or RoPE's cos/sin tables. The backward pass computes only
 * {@code dx = dy * w}.
 *
 * <p>ND4J's {@code multiply_bp} always computes both gradients, and the one for the broadcast
 * operand is a full-size product reduced over the batch: in a LoRA step of a 4-layer Llama it was
 * 18% of op time (RMSNorm gains and RoPE tables), in BERT 12% (LayerNorm gains) ({@code lora bench
 * step --profile}). Same mechanism as {@link FrozenMatMul}: this class replaces the Java class
 * SameDiff maps to libnd4j's {@code multiply} and behaves exactly like {@link MulOp} unless the op
 * carries the frozen marker, an integer argument the broadcastable kernel ignores.
 */
public final class FrozenMultiply extends MulOp {

  static final long FROZEN = 7_352;
  /** Marker of a trainable row weight [d] broadcast over x [n, d]: its gradient as column sums. */
  static final long ROW_WEIGHT = 7_357;

  /** {@code -Dloraj.frozenMultiply=false} builds plain multiplies (for before/after measurements). */
  static final boolean ENABLED = !"false".equals(System.getProperty("loraj.frozenMultiply"));

  /** For SameDiff's reflection: stands in for every {@code multiply} op. */
  public FrozenMultiply() {}

  private FrozenMultiply(SameDiff sd, SDVariable x, SDVariable w, long marker) {
    super(sd, x, w);
    addIArgument(marker);
  }

  /**
   * {@code x * w} with no gradient for {@code w}; {@code x} must have the output's shape ({@code w}
   * broadcasts into it, not the other way round).
   */
  public static SDVariable apply(SameDiff sd, SDVariable x, SDVariable w) {
    if (!ENABLED) {
      return x.mul(w);
    }
    register();
    return new FrozenMultiply(sd, x, w, FROZEN).outputVariable();
  }

  /**
   * {@code x * w}, frozen when {@code w} is a SameDiff constant (a frozen base weight); a
   * trainable rank-1 {@code w} over the rows of {@code x} gets its gradient as column sums
   * ({@link VectorKernelOp#columnSums}) instead of {@code multiply_bp}'s broadcast reduction.
   */
  public static SDVariable byWeight(SameDiff sd, SDVariable x, SDVariable w) {
    if (w.getVariableType() == VariableType.CONSTANT) {
      return apply(sd, x, w);
    }
    if (ENABLED && VectorKernelOp.columnSumGradient(x, w)) {
      register();
      return new FrozenMultiply(sd, x, w, ROW_WEIGHT).outputVariable();
    }
    return x.mul(w);
  }

  /**
   * {@code x * w} for a rank-1 {@code w} [d] over the rows of {@code x} [n, d] that is computed
   * from trainable values (DoRA's {@code m / n}): both get gradients, {@code w}'s as column sums
   * of {@code dy * x} ({@link VectorKernelOp#columnSums}) instead of {@code multiply_bp}'s broadcast
   * reduction (26 ms per [256, 384] call in a BERT DoRA step); a plain multiply without the Vector
   * API kernels.
   */
  public static SDVariable rowScale(SameDiff sd, SDVariable x, SDVariable w) {
    if (ENABLED && VectorKernelOp.columnSums(x, w)) {
      register();
      return new FrozenMultiply(sd, x, w, ROW_WEIGHT).outputVariable();
    }
    return x.mul(w);
  }

  boolean frozen() {
    return OpOverrides.endsWith(iArgs(), FROZEN);
  }

  @Override
  public List<SDVariable> doDiff(List<SDVariable> gradients) {
    if (OpOverrides.endsWith(iArgs(), ROW_WEIGHT)) {
      SDVariable dy = gradients.get(0);
      SDVariable dw = VectorKernelOp.columnSums(sameDiff, dy, larg());
      if (dw != null) {
        return List.of(dy.mul(rarg()), dw);
      }
      return super.doDiff(gradients);
    }
    if (!frozen()) {
      return super.doDiff(gradients);
    }
    SDVariable dx = gradients.get(0).mul(rarg()); // [x shape] * w broadcast
    VariableType wType = rarg().getVariableType();
    if (wType == VariableType.CONSTANT || wType == VariableType.PLACEHOLDER) {
      return List.of(dx); // a constant or data gets no gradient (as FrozenMatMul's weight)
    }
    return List.of(dx, sameDiff.zerosLike(rarg())); // derived from constants only: nothing flows
  }

  /** Maps libnd4j's {@code multiply} to this class in ND4J's op registry (idempotent). */
  public static void register() {
    OpOverrides.register("multiply", FrozenMultiply.class);
  }
}
