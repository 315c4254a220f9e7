package dev.loraj.core.graph;

import dev.loraj.core.engine.Engine;
import dev.loraj.core.engine.Threads;
import java.lang.ref.Reference;
import java.util.List;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.openblas.global.openblas_nolapack;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.OpContext;
import org.nd4j.linalg.api.shape.LongShapeDescriptor;
import org.nd4j.linalg.api.shape.Shape;

/**
 * Batched matrix product {@code C[i] = op(A[i]) op(B[i])} over the leading axes (attention's
 * [batch, heads, s, d] products), one OpenBLAS {@code cblas_sgemm} per matrix, with its backward
 * as two more such products.
 *
 * <p>Why: libnd4j 1.0.0-M2.1 batches a rank > 2 {@code matmul} through {@code cblas_sgemm_batch}
 * when the BLAS has it (MKL) and otherwise through its own loops, which OpenBLAS builds always
 * take: 8-11 GFLOP/s for BERT's [8, 12, 128, 128] x [8, 12, 128, 32] products against 95 for
 * plain {@code sgemm} in the same run (`lora bench step --profile`); the attention products and
 * their {@code matmul_bp} were ~65 ms of a 600 ms BERT LoRA step for 0.6 GFLOP.
 *
 * <p>float32 only (other types keep libnd4j's {@code matmul}); inputs of any layout (copied to
 * c order when they are not).
 */
public final class BatchedMatMul extends JavaComputedOp {
  static final String OP_NAME = "loraj_batched_matmul";
  private static final int ROW_MAJOR = 101;
  private static final int NO_TRANS = 111;
  private static final int TRANS = 112;

  /** For SameDiff's reflection (clones). */
  public BatchedMatMul() {}

  private BatchedMatMul(SameDiff sd, SDVariable a, SDVariable b, boolean ta, boolean tb,
      boolean headsA, boolean headsB, boolean headsC) {
    super(sd, new SDVariable[] {a, b});
    addIArgument(ta ? 1 : 0, tb ? 1 : 0, headsA ? 1 : 0, headsB ? 1 : 0, headsC ? 1 : 0);
  }

  /** {@code op(a) op(b)} per matrix of the leading axes ({@code ta}, {@code tb}: transpose). */
  public static SDVariable of(SameDiff sd, SDVariable a, SDVariable b, boolean ta, boolean tb) {
    return of(sd, a, b, ta, tb, false, false, false);
  }

  /**
   * As {@link #of(SameDiff, SDVariable, SDVariable, boolean, boolean)}, where an operand flagged
   * {@code heads*} is stored [batch, seq, heads, d] (a projection's [batch * seq, heads * d]
   * output, reshaped) and stands for the matrices [batch, heads, seq, d]: each matrix is read (or
   * written) in place with a leading dimension of heads * d, so attention needs no permute copies
   * of q, k, v and its output, forward or backward. The result is [batch, heads, m, n], or
   * [batch, m, heads, n] with {@code headsC}.
   */
  public static SDVariable of(SameDiff sd, SDVariable a, SDVariable b, boolean ta, boolean tb,
      boolean headsA, boolean headsB, boolean headsC) {
    if (!Engine.current().hostKernels()) {
      return stock(sd, a, b, ta, tb, headsA, headsB, headsC);
    }
    if (a.dataType() != DataType.FLOAT || b.dataType() != DataType.FLOAT) {
      if (headsA || headsB || headsC) {
        throw new IllegalArgumentException(OP_NAME + ": [batch, seq, heads, d] operands are float32 only");
      }
      return sd.mmul(a, b, ta, tb, false);
    }
    register(OP_NAME, BatchedMatMul::new);
    return new BatchedMatMul(sd, a, b, ta, tb, headsA, headsB, headsC).outputVariable();
  }

  /**
   * The same product from ND4J's own ops (the portable engine): {@code [batch, seq, heads, d]}
   * operands are permuted to {@code [batch, heads, seq, d]} and back, and libnd4j's batched
   * {@code matmul} multiplies.
   */
  private static SDVariable stock(SameDiff sd, SDVariable a, SDVariable b, boolean ta, boolean tb,
      boolean headsA, boolean headsB, boolean headsC) {
    SDVariable x = headsA ? sd.permute(a, 0, 2, 1, 3) : a;
    SDVariable y = headsB ? sd.permute(b, 0, 2, 1, 3) : b;
    SDVariable z = sd.mmul(x, y, ta, tb, false);
    return headsC ? sd.permute(z, 0, 2, 1, 3) : z;
  }

  private boolean flag(int i) {
    long[] a = iArgs();
    return a.length > i && a[i] != 0;
  }

  /** One operand's matrices: where matrix i starts and its leading dimension. */
  private record Operand(INDArray array, boolean heads, long rows, long cols, long batch,
      long headCount, long seq) {
    static Operand of(INDArray a, boolean heads) {
      int r = a.rank();
      if (heads) {
        if (r != 4) {
          throw new IllegalArgumentException(OP_NAME + ": a [batch, seq, heads, d] operand has rank 4, got "
              + java.util.Arrays.toString(a.shape()));
        }
        return new Operand(a, true, a.size(1), a.size(3), a.size(0) * a.size(2), a.size(2), a.size(1));
      }
      if (r < 2) {
        throw new IllegalArgumentException(OP_NAME + ": rank >= 2 expected, got " + java.util.Arrays.toString(a.shape()));
      }
      return new Operand(a, false, a.size(r - 2), a.size(r - 1), a.length() / (a.size(r - 2) * a.size(r - 1)), 0, 0);
    }

    long base(long i) {
      return heads ? (i / headCount) * seq * headCount * cols + (i % headCount) * cols : i * rows * cols;
    }

    int ld() {
      return (int) (heads ? headCount * cols : cols);
    }

    /** The leading (batch) axes as [batch, heads] or the array's own. */
    long[] lead() {
      long[] s = array.shape();
      return heads ? new long[] {s[0], s[2]} : java.util.Arrays.copyOf(s, s.length - 2);
    }
  }

  private boolean ta() {
    return flag(0);
  }

  private boolean tb() {
    return flag(1);
  }

  @Override
  public String opName() {
    return OP_NAME;
  }

  @Override
  public List<LongShapeDescriptor> calculateOutputShape(OpContext oc) {
    return computeAndPublish(oc, outShape(oc.getInputArray(0), oc.getInputArray(1)));
  }

  private long[] outShape(INDArray a, INDArray b) {
    Operand x = Operand.of(a, flag(2));
    Operand y = Operand.of(b, flag(3));
    long m = ta() ? x.cols() : x.rows();
    long ka = ta() ? x.rows() : x.cols();
    long kb = tb() ? y.cols() : y.rows();
    long n = tb() ? y.rows() : y.cols();
    if (ka != kb || x.batch() != y.batch()) {
      throw new IllegalArgumentException(OP_NAME + ": shapes do not multiply: "
          + java.util.Arrays.toString(a.shape()) + " x " + java.util.Arrays.toString(b.shape())
          + " (transposed " + ta() + ", " + tb() + ")");
    }
    long[] lead = x.lead();
    if (flag(4)) {
      if (lead.length != 2) {
        throw new IllegalArgumentException(OP_NAME + ": a [batch, seq, heads, d] result needs [batch, heads] matrices");
      }
      return new long[] {lead[0], m, lead[1], n};
    }
    long[] s = java.util.Arrays.copyOf(lead, lead.length + 2);
    s[lead.length] = m;
    s[lead.length + 1] = n;
    return s;
  }

  @Override
  boolean computesInto() {
    return true;
  }

  @Override
  void compute(List<INDArray> in, INDArray out) {
    if (!isPlain(out)) {
      throw new IllegalArgumentException(OP_NAME + ": output must be float32 in c order");
    }
    Operand x = Operand.of(plain(in.get(0)), flag(2));
    Operand y = Operand.of(plain(in.get(1)), flag(3));
    Operand z = Operand.of(out, flag(4));
    int m = (int) z.rows();
    int n = (int) z.cols();
    int k = (int) (ta() ? x.rows() : x.cols());
    // raw pointers into the operands' native buffers: the arrays that own them (x and y may be
    // temporary copies) stay reachable until the last product has run (see TensorCodec)
    // the matrices in parts over the kernel pool while OpenBLAS runs on its callers' threads
    // (a replayed step, Threads.callerBlas); otherwise on this thread, OpenBLAS threading each
    Threads.Range products = (from, to) -> {
      FloatPointer pa = new FloatPointer(x.array().data().addressPointer());
      FloatPointer pb = new FloatPointer(y.array().data().addressPointer());
      FloatPointer pc = new FloatPointer(out.data().addressPointer());
      for (long i = from; i < to; i++) {
        pa.position(x.base(i));
        pb.position(y.base(i));
        pc.position(z.base(i));
        openblas_nolapack.cblas_sgemm(ROW_MAJOR, ta() ? TRANS : NO_TRANS, tb() ? TRANS : NO_TRANS,
            m, n, k, 1f, pa, x.ld(), pb, y.ld(), 0f, pc, z.ld());
      }
    };
    try {
      Threads.splitProducts((int) z.batch(), 1, (long) m * n * k, products);
    } finally {
      Reference.reachabilityFence(x.array());
      Reference.reachabilityFence(y.array());
      Reference.reachabilityFence(out);
      Reference.reachabilityFence(in);
      closeCopy(x.array(), in.get(0));
      closeCopy(y.array(), in.get(1));
    }
  }

  /** Frees a temporary C-order copy now instead of when the collector finds it. */
  private static void closeCopy(INDArray used, INDArray given) {
    if (used != given) {
      used.close();
    }
  }

  private static boolean isPlain(INDArray x) {
    return x.dataType() == DataType.FLOAT && x.ordering() == 'c' && x.offset() == 0
        && Shape.hasDefaultStridesForShape(x);
  }

  private static INDArray plain(INDArray x) {
    return isPlain(x) ? x : x.castTo(DataType.FLOAT).dup('c');
  }

  /** The products' derivatives: two more batched products of dC with the other factor. */
  @Override
  public List<SDVariable> doDiff(List<SDVariable> gradients) {
    SDVariable dc = gradients.get(0);
    SDVariable a = arg(0);
    SDVariable b = arg(1);
    boolean ta = ta();
    boolean tb = tb();
    boolean ha = flag(2);
    boolean hb = flag(3);
    boolean hc = flag(4);
    SDVariable da;
    SDVariable db;
    if (!ta && !tb) { // C = A B
      da = of(sameDiff, dc, b, false, true, hc, hb, ha);
      db = of(sameDiff, a, dc, true, false, ha, hc, hb);
    } else if (!ta) { // C = A B^T
      da = of(sameDiff, dc, b, false, false, hc, hb, ha);
      db = of(sameDiff, dc, a, true, false, hc, ha, hb);
    } else if (!tb) { // C = A^T B
      da = of(sameDiff, b, dc, false, true, hb, hc, ha);
      db = of(sameDiff, a, dc, false, false, ha, hc, hb);
    } else { // C = A^T B^T
      da = of(sameDiff, b, dc, true, true, hb, hc, ha);
      db = of(sameDiff, dc, a, true, true, hc, ha, hb);
    }
    return List.of(da, db);
  }

}
