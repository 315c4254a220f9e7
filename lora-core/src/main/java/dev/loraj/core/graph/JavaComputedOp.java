package dev.loraj.core.graph;

import java.util.List;
import java.util.Map;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.DynamicCustomOp;
import org.nd4j.linalg.api.ops.OpContext;
import org.nd4j.linalg.api.shape.LongShapeDescriptor;

/**
 * A SameDiff op whose result is computed in Java, with float inputs and one float output.
 *
 * <p>ND4J 1.0.0-M2.1 has no user-defined op: its executor sends every custom op to libnd4j by
 * {@link #opHash()}. It does, however, ask the Java op object for its output shapes, with the
 * op's input arrays already in the {@link OpContext}, right before it allocates the outputs and
 * executes ({@code InferenceSession.getAndParameterizeOp}). A subclass computes its result in
 * {@link #calculateOutputShape(OpContext)}, puts it in place of input 0 and returns its shape; this
 * class reports the hash of libnd4j's {@code identity}, which then copies the result into the
 * output array the session allocated. Everything a clone needs (SameDiff re-creates ops by name
 * for its gradient graph) must travel in the op's integer and string arguments.
 * Used by {@code QuantizedLinearOp} (lora-core) and the intrinsic-dimension projection
 * (lora-variants).
 */
public abstract class JavaComputedOp extends DynamicCustomOp {
  private static volatile long identityHash;

  /** For SameDiff's reflection (clones). */
  protected JavaComputedOp() {}

  protected JavaComputedOp(SameDiff sd, SDVariable input) {
    super(null, sd, new SDVariable[] {input});
  }

  protected JavaComputedOp(SameDiff sd, SDVariable[] inputs) {
    super(null, sd, inputs);
  }

  /**
   * Whether {@link #compute} writes the result straight into a given output array: the replay
   * executor ({@link GradientReplay}) then calls it instead of the shape call and identity copy.
   */
  boolean computesInto() {
    return computesIntoOutput();
  }

  /** Computes the result from the op's inputs into {@code out} (see {@link #computesInto}). */
  void compute(List<INDArray> in, INDArray out) {
    computeInto(in, out);
  }

  /** {@link #computesInto} for subclasses outside this package. */
  protected boolean computesIntoOutput() {
    return false;
  }

  /** {@link #compute} for subclasses outside this package. */
  protected void computeInto(List<INDArray> in, INDArray out) {
    throw new UnsupportedOperationException(getClass().getSimpleName() + " computes in its shape call");
  }

  /** libnd4j's {@code identity}: copies the Java result (input 0 by then) into the output. */
  @Override
  public final long opHash() {
    long h = identityHash;
    if (h == 0) {
      h = org.nd4j.linalg.factory.Nd4j.getExecutioner().getCustomOperations().get("identity").getHash();
      identityHash = h;
    }
    return h;
  }

  @Override
  public int getNumOutputs() {
    return 1;
  }

  /** No named properties: ND4J's default looks up a libnd4j descriptor this op does not have. */
  @Override
  public Map<String, Object> propertiesForFunction() {
    return Map.of();
  }

  @Override
  public void setPropertiesForFunction(Map<String, Object> properties) {
    // everything lives in the integer and string arguments, read when needed
  }

  @Override
  public void configureFromArguments() {
    // as above
  }

  @Override
  public List<DataType> calculateOutputDataTypes(List<DataType> dataTypes) {
    return List.of(DataType.FLOAT);
  }

  private static final java.util.Set<String> REGISTERED = new java.util.HashSet<>();

  /**
   * Maps {@code opName} to {@code prototype}'s class in ND4J's op registry, so SameDiff's clones
   * (the gradient graph) are made of this class; idempotent. Returns whether this call registered it.
   */
  protected static synchronized boolean register(String opName, java.util.function.Supplier<? extends JavaComputedOp> prototype) {
    if (!dev.loraj.core.engine.Engine.current().hostKernels()) {
      // every factory registers before it adds an op: a portable graph must not get one
      throw new IllegalStateException(opName + " is computed in Java on host memory, but the engine is "
          + dev.loraj.core.engine.Engine.current().describe() + ": its caller should have built ND4J ops");
    }
    if (!REGISTERED.add(opName)) {
      return false;
    }
    org.nd4j.imports.converters.DifferentialFunctionClassHolder.getInstance();
    org.nd4j.imports.converters.ImportClassMapping.getOpNameMapping().put(opName, prototype.get());
    return true;
  }

  /**
   * SameDiff's path for ops that {@link #computesInto}: computes into a new float array of
   * {@code shape} and publishes it; other inputs are unbound first (identity reads input 0 only).
   */
  protected final List<LongShapeDescriptor> computeAndPublish(OpContext oc, long[] shape) {
    List<INDArray> in = new java.util.ArrayList<>(oc.getInputArrays());
    INDArray out = org.nd4j.linalg.factory.Nd4j.createUninitialized(DataType.FLOAT, shape, 'c');
    compute(in, out);
    if (in.size() > 1) {
      oc.purge();
    }
    return publish(oc, out);
  }

  /** Computes the result and hands it to {@link #publish}. */
  @Override
  public abstract List<LongShapeDescriptor> calculateOutputShape(OpContext oc);

  /** Puts {@code result} in place of input 0 (for the identity copy) and returns its shape. */
  protected final List<LongShapeDescriptor> publish(OpContext oc, INDArray result) {
    recycle(result);
    oc.setInputArray(0, result);
    return List.of(LongShapeDescriptor.fromShape(result.shape(), DataType.FLOAT));
  }

  /**
   * Closes the result this thread published before (by any op of this kind): its identity copy
   * has finished, as a thread runs one op at a time, so at most one result per thread waits for
   * its copy. Keeping the last result per op instead left every Java-computed output of a
   * SameDiff run allocated until the same op ran again, one step later: for a model whose frozen
   * linears are all quantized or 16-bit, a whole step's worth of linear outputs.
   */
  private static void recycle(INDArray result) {
    INDArray previous = LAST_RESULT.get();
    if (previous != null && previous != result && !previous.wasClosed()) {
      previous.close();
    }
    LAST_RESULT.set(result);
  }

  private static final ThreadLocal<INDArray> LAST_RESULT = new ThreadLocal<>();
}
