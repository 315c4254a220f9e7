package dev.loraj.core.graph;

import java.util.List;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.api.ops.impl.transforms.pairwise.arithmetic.DivOp;

/**
 * Row normalisation with its backward pass written out: LayerNorm's {@code n = (x - mean) /
 * sqrt(var + eps)} (biased variance) and RMSNorm's {@code n = x / sqrt(mean(x^2) + eps)}, over
 * the last axis of x [rows, features], without gain or bias (the callers apply those with
 * {@link FrozenMultiply} / {@link FrozenAdd}).
 *
 * <p>Backward, with {@code sigma} the divisor and {@code <.>} the row mean:
 * LayerNorm {@code dx = (dn - <dn> - n <dn n>) / sigma}, RMSNorm {@code dx = (dn - n <dn n>) /
 * sigma} (differentiate {@code n} through the statistics; e.g. Ba et al. 2016 for LayerNorm).
 *
 * <p>The statistics are computed from x by elementary ops and reach the last op, the division
 * (this class), through {@link GradientCut}s, so SameDiff differentiates none of them; this op's
 * backward pass alone gives x's gradient. Differentiating the elementary form instead went back
 * through divide/multiply with a broadcast operand ({@code multiply_bp} 9.7 ms per [1024, 512]
 * RMSNorm call in a Llama LoRA step, {@code divide_bp} 1.6 ms per [1024, 384] LayerNorm call in
 * BERT), the square and both means. Same mechanism as {@link FrozenMultiply}: registered over
 * libnd4j's {@code divide}, it behaves exactly like {@link DivOp} unless it carries a marker.
 * {@code -Dloraj.normGrad=false} builds the same forward from elementary ops only, for SameDiff to
 * differentiate (before/after runs).
 *
 * <p>Where the Vector API kernels apply, the whole normalisation is instead one
 * {@link VectorKernelOp#normRows} op forward and one backward (the chain above is ~8 ops each way
 * per call, 13 LayerNorms per BERT-6 step).
 */
public final class RowNorm extends DivOp {

  static final long CENTRED = 7_355;
  static final long RMS = 7_356;

  static final boolean ENABLED = !"false".equals(System.getProperty("loraj.normGrad"));

  /**
   * Whether the normalisation is one {@link VectorKernelOp} forward and one backward where the
   * kernels apply ({@code -Dloraj.fusedNorm=false}: this class's op chain, for before/after runs).
   */
  static final boolean FUSED = ENABLED && !"false".equals(System.getProperty("loraj.fusedNorm"));

  /** For SameDiff's reflection: stands in for every {@code divide} op. */
  public RowNorm() {}

  private RowNorm(SameDiff sd, SDVariable x, SDVariable sigma, long width, long marker) {
    super(sd, x, sigma);
    addIArgument(width, marker); // the marker last (OpOverrides.endsWith); width for doDiff
  }

  /**
   * LayerNorm's normalised rows, as torch: {@code (x - mean) / sqrt(var + eps)}.
   *
   * @param training whether the graph will be differentiated; otherwise (and with
   *     {@code -Dloraj.normGrad=false}) the same values come from the elementary ops alone, without
   *     the cuts, which only cost time in an inference graph
   */
  public static SDVariable layerNorm(SameDiff sd, SDVariable x, double eps, boolean training) {
    return layerNorm(sd, x, eps, training, width(x));
  }

  /** As {@link #layerNorm(SameDiff, SDVariable, double, boolean)}, rows of {@code width} entries (0: unknown). */
  public static SDVariable layerNorm(SameDiff sd, SDVariable x, double eps, boolean training,
      long width) {
    SDVariable fused = FUSED ? VectorKernelOp.normRows(sd, x, eps, true) : null;
    if (fused != null) {
      return fused;
    }
    if (!ENABLED || !training) {
      SDVariable centred = x.sub(sd.mean(x, true, 1));
      return centred.div(sd.math().sqrt(sd.mean(sd.math().square(centred), true, 1).add(eps)));
    }
    SDVariable mean = rowMean(sd, x, width);
    SDVariable var = rowMean(sd, sd.math().square(x.sub(mean)), width);
    OpOverrides.register("divide", RowNorm.class);
    SDVariable sigma = GradientCut.of(sd, sd.math().sqrt(var.add(eps))); // [rows, 1]
    SDVariable c = FrozenAdd.apply(sd, x, GradientCut.of(sd, mean).neg()); // dx = dc
    return new RowNorm(sd, c, sigma, width, CENTRED).outputVariable();
  }

  /** RMSNorm's normalised rows, as Llama's: {@code x / sqrt(mean(x^2) + eps)} ({@code training}: as above). */
  public static SDVariable rms(SameDiff sd, SDVariable x, double eps, boolean training) {
    return rms(sd, x, eps, training, width(x));
  }

  /** As {@link #rms(SameDiff, SDVariable, double, boolean)}, rows of {@code width} entries (0: unknown). */
  public static SDVariable rms(SameDiff sd, SDVariable x, double eps, boolean training, long width) {
    SDVariable fused = FUSED ? VectorKernelOp.normRows(sd, x, eps, false) : null;
    if (fused != null) {
      return fused;
    }
    if (!ENABLED || !training) {
      return x.div(sd.math().sqrt(sd.mean(sd.math().square(x), true, 1).add(eps)));
    }
    SDVariable ms = rowMean(sd, sd.math().square(x), width);
    OpOverrides.register("divide", RowNorm.class);
    SDVariable sigma = GradientCut.of(sd, sd.math().sqrt(ms.add(eps))); // [rows, 1]
    return new RowNorm(sd, x, sigma, width, RMS).outputVariable();
  }

  /** The number of columns of a [rows, cols] variable, or 0 if not known when the graph is built. */
  public static long width(SDVariable x) {
    long[] shape = x.getShape();
    return shape != null && shape.length == 2 && shape[1] > 0 ? shape[1] : 0;
  }

  /**
   * Row means [rows, 1] as a matrix-vector product with a constant {@code 1 / width} column when
   * the width is known: libnd4j's {@code reduce_mean} along the rows of [1024, 384] took 0.33 ms,
   * the product 0.06 ms (50 calls per BERT step). Only for values SameDiff does not differentiate
   * (statistics behind a cut, and the backward pass's own means).
   */
  private static SDVariable rowMean(SameDiff sd, SDVariable x, long width) {
    if (width <= 0) {
      return x.mean(true, 1);
    }
    INDArray w = Nd4j.valueArrayOf(new long[] {width, 1}, 1.0 / width, x.dataType());
    return sd.mmul(x, sd.constant(w));
  }

  @Override
  public List<SDVariable> doDiff(List<SDVariable> gradients) {
    boolean centred = OpOverrides.endsWith(iArgs(), CENTRED);
    if (!centred && !OpOverrides.endsWith(iArgs(), RMS)) {
      return super.doDiff(gradients);
    }
    SDVariable dn = gradients.get(0);
    SDVariable n = outputVariable();
    SDVariable sigma = rarg();
    long[] args = iArgs();
    long width = args.length >= 2 ? args[args.length - 2] : 0;
    SDVariable proj = n.mul(rowMean(sameDiff, dn.mul(n), width)); // n <dn n>
    SDVariable d = centred ? dn.sub(rowMean(sameDiff, dn, width)).sub(proj) : dn.sub(proj);
    return List.of(d.div(sigma)); // sigma comes through a cut: not in the gradient graph
  }
}
