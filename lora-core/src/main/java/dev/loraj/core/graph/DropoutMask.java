package dev.loraj.core.graph;

import dev.loraj.core.engine.Engine;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
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
 *
 * <p>The portable engine ({@link Engine}) builds the mask from ND4J ops instead
 * ({@link #hashed}): an integer hash of each entry's index and of a per-run seed that
 * {@link Graphs} feeds as a placeholder, drawn from ND4J's global RNG, so runs stay reproducible
 * from the trainer's seed; the masks differ from this op's (another random stream).
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
    if (!Engine.current().hostKernels()) {
      return hashed(sd, x, keep);
    }
    register(OP_NAME, DropoutMask::new);
    return new DropoutMask(sd, x.shape(), keep).outputVariable();
  }

  /** The placeholder (int64 scalar) of the portable mask's per-run seed. */
  static final String SEED = "loraj_dropout_seed";

  private static final long LOW32 = 0xFFFF_FFFFL;

  /**
   * The mask from ND4J ops: for entry i, {@code h = fmix(i * 0x9E3779B1 + seed)} on 32 bits
   * (int64 arithmetic, each product below 2^63: multipliers under 2^31 after the first, which
   * sees indices under 2^31), kept when {@code (h >>> 8) / 2^24 < keep}. The hash's mixing
   * rounds are those of a murmur3-style finalizer with odd constants.
   */
  static SDVariable hashed(SameDiff sd, SDVariable x, double keep) {
    SDVariable seed = sd.hasVariable(SEED) ? sd.getVariable(SEED) : sd.placeHolder(SEED, DataType.LONG);
    SDVariable shape = sd.castTo(x.shape(), DataType.LONG);
    SDVariable count = shape.prod(0);
    SDVariable i = sd.range(sd.constant(0L), count, sd.constant(1L), DataType.LONG);
    SDVariable h = low32(sd, i.mul(sd.constant(0x9E3779B1L)).add(seed));
    h = sd.bitwise().xor(h, sd.bitwise().rightShift(h, sd.constant(16L)));
    h = low32(sd, h.mul(sd.constant(0x7FEB352DL)));
    h = sd.bitwise().xor(h, sd.bitwise().rightShift(h, sd.constant(15L)));
    h = low32(sd, h.mul(sd.constant(0x6A09E667L)));
    h = sd.bitwise().xor(h, sd.bitwise().rightShift(h, sd.constant(16L)));
    SDVariable u = sd.castTo(sd.bitwise().rightShift(h, sd.constant(8L)), DataType.FLOAT).mul(1.0 / (1 << 24));
    SDVariable kept = sd.castTo(u.lt(keep), DataType.FLOAT).mul(1.0 / keep);
    return sd.reshape(kept, shape);
  }

  private static SDVariable low32(SameDiff sd, SDVariable v) {
    return sd.bitwise().and(v, sd.constant(LOW32));
  }

  /** The run inputs the portable mask needs: a new seed from ND4J's global RNG when {@code sd} has the placeholder. */
  static Map<String, INDArray> withSeed(SameDiff sd, Map<String, INDArray> placeholders) {
    if (!sd.hasVariable(SEED) || placeholders.containsKey(SEED)) {
      return placeholders;
    }
    Map<String, INDArray> all = new HashMap<>(placeholders);
    all.put(SEED, Nd4j.scalar(Nd4j.getRandom().nextInt() & LOW32));
    return all;
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
