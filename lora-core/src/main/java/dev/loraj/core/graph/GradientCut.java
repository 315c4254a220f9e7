package dev.loraj.core.graph;

import java.util.List;
import java.util.Map;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ops.DynamicCustomOp;

/**
 * The same values as a floating-point variable, outside the gradient graph: two bit-casts, to the
 * integer type of the same width and back, each a plain copy.
 *
 * <p>SameDiff 1.0.0-M2.1 differentiates exactly the floating-point variables on a floating-point
 * path from a trainable variable to the loss ({@code createGradFunction}, steps 1 and 2); an
 * integer variable on the way ends that path. Ops fed from a cut copy are therefore never
 * differentiated, and the variables they read get no gradient through them (nor do the ops
 * that only lead to the cut: they are not on a floating-point path to the loss). ND4J's
 * {@code stop_gradient} does not do this: its backward pass still produces a full-size array of
 * zeros and the ops before it are still differentiated. Used where a value only shifts or
 * scales a result whose backward pass is written out by hand (the log-sum-exp of
 * {@link LogSoftmaxOut}).
 */
public final class GradientCut extends DynamicCustomOp {

  /** For SameDiff's reflection: stands in for every {@code bitcast} op. */
  public GradientCut() {}

  private GradientCut(SameDiff sd, SDVariable x, DataType to) {
    super(null, sd, new SDVariable[] {x});
    addIArgument(to.toInt());
  }

  @Override
  public String opName() {
    return "bitcast";
  }

  /** {@code x}'s values in a variable no gradient flows through. */
  public static SDVariable of(SameDiff sd, SDVariable x) {
    OpOverrides.register("bitcast", GradientCut.class);
    DataType fp = x.dataType();
    DataType bits = switch (fp) {
      case FLOAT -> DataType.INT32;
      case DOUBLE -> DataType.INT64;
      case HALF, BFLOAT16 -> DataType.INT16;
      default -> throw new IllegalArgumentException("not a floating-point variable: " + x.name() + " " + fp);
    };
    SDVariable asBits = new GradientCut(sd, x, bits).outputVariable();
    return new GradientCut(sd, asBits, fp).outputVariable();
  }

  @Override
  public List<DataType> calculateOutputDataTypes(List<DataType> inputDataTypes) {
    return List.of(DataType.fromInt((int) iArgs()[0]));
  }

  /** The target type is the integer argument; no field for a clone to restore. */
  @Override
  public Map<String, Object> propertiesForFunction() {
    return Map.of();
  }

  @Override
  public void setPropertiesForFunction(Map<String, Object> properties) {}
}
