package dev.loraj.variants.intrinsic;

import dev.loraj.core.graph.JavaComputedOp;
import java.lang.ref.WeakReference;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.OpContext;
import org.nd4j.linalg.api.shape.LongShapeDescriptor;
import org.nd4j.linalg.factory.Nd4j;

/**
 * A SameDiff op computed in Java: one site's block of the random projection, {@code
 * reshape(P_s theta_d)} [out, in] (forward), and its transpose {@code P_s^T vec(g)} [d] (the
 * gradient w.r.t. theta_d). A sparse P has no efficient in-graph form on ND4J ({@code gather}
 * and segment sums cost ~0.6 us per index, docs/engine.md), so the product runs as a Java loop
 * over the non-zeros.
 *
 * <p>Mechanism (the one {@code dev.loraj.core.quant.QuantizedLinearOp} uses): ND4J 1.0.0-M2.1
 * sends every custom op to libnd4j by hash, but asks the Java op for its output shape with the
 * input arrays already in the {@link OpContext} right before executing. This op computes its
 * result there, puts it in place of input 0 and reports libnd4j's {@code identity}, which copies
 * it into the output. Clones (the gradient graph) are re-created from the op name and arguments,
 * so the mode travels as an integer argument and the site's block as a string key into a
 * registry of weak references (the adapter, held by its model, keeps the block alive).
 *
 * <p>The portable engine ({@code dev.loraj.core.engine.Engine}) gets the same product from ND4J
 * ops instead ({@link #dense}): the site's block of P as a dense constant [out * in, d] times
 * theta, which SameDiff differentiates as a matmul ({@code P_s^T vec(g)}). Dense blocks cost
 * {@code out * in * d} floats, so this fits small models and dimensions only.
 */
public final class SubspaceProjectOp extends JavaComputedOp {

  static final String OP_NAME = "loraj_subspace_project";
  /** Integer argument 0: theta [d] -> reshape(P_s theta) [out, in]. */
  static final long FORWARD = 0;
  /** Integer argument 0: g [out, in] -> P_s^T vec(g) [d]. */
  static final long TRANSPOSE = 1;

  private static final Map<String, WeakReference<IntrinsicDimension.IntrinsicAdapter>> SITES =
      new ConcurrentHashMap<>();
  private static final AtomicLong NEXT_KEY = new AtomicLong();


  /** For SameDiff's reflection (clones). */
  public SubspaceProjectOp() {}

  private SubspaceProjectOp(SameDiff sd, SDVariable in, String key, long mode) {
    super(sd, in);
    addIArgument(mode);
    addSArgument(key);
  }

  /** {@code reshape(P_s theta)} for the adapter's site: theta [d] -> [out, in]. */
  static SDVariable apply(SameDiff sd, SDVariable theta, IntrinsicDimension.IntrinsicAdapter site) {
    if (!dev.loraj.core.engine.Engine.current().hostKernels()) {
      return dense(sd, theta, site);
    }
    register();
    return new SubspaceProjectOp(sd, theta, keyOf(site), FORWARD).outputVariable();
  }

  static String keyOf(IntrinsicDimension.IntrinsicAdapter site) {
    synchronized (SITES) {
      String key = site.opKey();
      if (key == null) {
        SITES.values().removeIf(r -> r.get() == null);
        key = "ip" + NEXT_KEY.incrementAndGet();
        SITES.put(key, new WeakReference<>(site));
        site.opKey(key);
      }
      return key;
    }
  }

  private IntrinsicDimension.IntrinsicAdapter site() {
    String key = sArgs()[0];
    WeakReference<IntrinsicDimension.IntrinsicAdapter> ref = SITES.get(key);
    IntrinsicDimension.IntrinsicAdapter a = ref == null ? null : ref.get();
    if (a == null) {
      throw new IllegalStateException("intrinsic site '" + key + "' of op " + getOwnName()
          + " is no longer held by any model: rebuild the graph from the model");
    }
    return a;
  }

  /** {@code reshape(P_s theta)} as a matmul with the densified block (the portable engine). */
  static SDVariable dense(SameDiff sd, SDVariable theta, IntrinsicDimension.IntrinsicAdapter a) {
    Subspace.Block block = a.subspace().block(a.site().path());
    int d = a.subspace().dim();
    long entries = (long) block.rows() * d;
    if (entries > Subspace.MAX_DENSE_ENTRIES) {
      throw new IllegalStateException("intrinsic: site " + a.site().path() + " needs a dense block of "
          + block.rows() + " x " + d + " floats in the portable engine, more than "
          + Subspace.MAX_DENSE_ENTRIES + "; use a smaller dim or the optimized engine (CPU backend)");
    }
    float[] p = new float[Math.toIntExact(entries)]; // [rows, d], row-major
    float[] unit = new float[d];
    float[] col = new float[block.rows()];
    for (int j = 0; j < d; j++) {
      unit[j] = 1;
      block.apply(unit, col);
      unit[j] = 0;
      for (int r = 0; r < col.length; r++) {
        p[r * d + j] = col[r];
      }
    }
    SDVariable pc = sd.constant(Nd4j.create(p, new long[] {block.rows(), d}, 'c'));
    SDVariable flat = sd.mmul(pc, sd.reshape(theta, d, 1)); // [rows, 1]
    return sd.reshape(flat, a.site().out(), a.site().in());
  }

  @Override
  public String opName() {
    return OP_NAME;
  }

  /** Computes the product and replaces input 0 by it; returns its shape. */
  @Override
  public List<LongShapeDescriptor> calculateOutputShape(OpContext oc) {
    IntrinsicDimension.IntrinsicAdapter a = site();
    Subspace.Block block = a.subspace().block(a.site().path());
    float[] in = Nd4j.toFlattened('c', oc.getInputArray(0)).castTo(DataType.FLOAT).toFloatVector();
    INDArray result;
    if (iArgs()[0] == FORWARD) {
      float[] out = new float[block.rows()];
      block.apply(in, out);
      result = Nd4j.create(out, new long[] {a.site().out(), a.site().in()}, 'c'); // [out, in]
    } else {
      float[] out = new float[a.subspace().dim()];
      block.applyTransposed(in, out);
      result = Nd4j.create(out, new long[] {out.length}, 'c'); // [d]
    }
    return publish(oc, result);
  }


  /** d/dtheta of reshape(P theta) applied to g is P^T vec(g); of P^T vec(g) w.r.t. g, reshape(P .). */
  @Override
  public List<SDVariable> doDiff(List<SDVariable> gradients) {
    long other = iArgs()[0] == FORWARD ? TRANSPOSE : FORWARD;
    return List.of(new SubspaceProjectOp(sameDiff, gradients.get(0), sArgs()[0], other).outputVariable());
  }

  /** Maps {@link #OP_NAME} to this class in ND4J's op registry (idempotent). */
  static void register() {
    register(OP_NAME, SubspaceProjectOp::new);
  }
}
