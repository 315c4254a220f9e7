package dev.loraj.core.graph;

import java.util.List;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.OpContext;
import org.nd4j.linalg.api.ops.random.impl.DropOutInverted;
import org.nd4j.linalg.api.shape.LongShapeDescriptor;
import org.nd4j.linalg.factory.Nd4j;

/**
 * An inverted-dropout mask of a given shape, drawn at every run from ND4J's global RNG: entries
 * are 0 with probability {@code 1 - keep} and {@code 1 / keep} otherwise. Computed in Java
 * ({@link JavaComputedOp}) because ND4J 1.0.0-M2.1's in-graph random ops do not work for this:
 * {@code DropOut} has no gradient, {@code DropOutInverted} cannot compute its output shape in a
 * SameDiff graph, and custom random ops draw from their op context's generator, which SameDiff
 * never seeds. The input is the shape (an integer array), so no gradient reaches the mask.
 */
public final class DropoutMask extends JavaComputedOp {
  static final String OP_NAME = "loraj_dropout_mask";

  /** For SameDiff's reflection (clones). */
  public DropoutMask() {}

  private DropoutMask(SameDiff sd, SDVariable shape, double keep) {
    super(sd, shape);
    addIArgument(Double.doubleToLongBits(keep)); // clones keep integer arguments only
  }

  /** A mask with {@code x}'s shape that keeps each entry with probability {@code keep}. */
  public static SDVariable like(SameDiff sd, SDVariable x, double keep) {
    register(OP_NAME, DropoutMask::new);
    return new DropoutMask(sd, x.shape(), keep).outputVariable();
  }

  @Override
  public String opName() {
    return OP_NAME;
  }

  @Override
  public List<LongShapeDescriptor> calculateOutputShape(OpContext oc) {
    long[] shape = oc.getInputArray(0).toLongVector();
    INDArray mask = Nd4j.ones(DataType.FLOAT, shape);
    Nd4j.getExecutioner().exec(new DropOutInverted(mask, Double.longBitsToDouble(iArgs()[0])));
    return publish(oc, mask);
  }

  /** Not reached: the input is an integer shape, which SameDiff does not differentiate. */
  @Override
  public List<SDVariable> doDiff(List<SDVariable> gradients) {
    return List.of(sameDiff.zerosLike(arg()));
  }

}
