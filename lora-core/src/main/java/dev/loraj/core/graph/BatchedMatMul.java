package dev.loraj.core.graph;

import java.util.ArrayList;
import java.util.List;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.openblas.global.openblas_nolapack;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.imports.converters.DifferentialFunctionClassHolder;
import org.nd4j.imports.converters.ImportClassMapping;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.OpContext;
import org.nd4j.linalg.api.shape.LongShapeDescriptor;
import org.nd4j.linalg.api.shape.Shape;
import org.nd4j.linalg.factory.Nd4j;

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

  private static volatile boolean registered;

  /** For SameDiff's reflection (clones). */
  public BatchedMatMul() {}

  private BatchedMatMul(SameDiff sd, SDVariable a, SDVariable b, boolean ta, boolean tb) {
    super(sd, new SDVariable[] {a, b});
    addIArgument(ta ? 1 : 0, tb ? 1 : 0);
  }

  /** {@code op(a) op(b)} per matrix of the leading axes ({@code ta}, {@code tb}: transpose). */
  public static SDVariable of(SameDiff sd, SDVariable a, SDVariable b, boolean ta, boolean tb) {
    if (a.dataType() != DataType.FLOAT || b.dataType() != DataType.FLOAT) {
      return sd.mmul(a, b, ta, tb, false);
    }
    register();
    return new BatchedMatMul(sd, a, b, ta, tb).outputVariable();
  }

  private boolean ta() {
    return iArgs()[0] != 0;
  }

  private boolean tb() {
    return iArgs()[1] != 0;
  }

  @Override
  public String opName() {
    return OP_NAME;
  }

  @Override
  public List<LongShapeDescriptor> calculateOutputShape(OpContext oc) {
    List<INDArray> in = new ArrayList<>(oc.getInputArrays());
    INDArray out = Nd4j.createUninitialized(DataType.FLOAT, outShape(in.get(0), in.get(1)), 'c');
    compute(in, out);
    oc.purge(); // identity reads input 0 only
    return publish(oc, out);
  }

  private long[] outShape(INDArray a, INDArray b) {
    int r = a.rank();
    if (r < 2 || b.rank() != r) {
      throw new IllegalArgumentException(OP_NAME + ": inputs of equal rank >= 2, got "
          + java.util.Arrays.toString(a.shape()) + " and " + java.util.Arrays.toString(b.shape()));
    }
    long[] s = a.shape().clone();
    long m = ta() ? a.size(r - 1) : a.size(r - 2);
    long ka = ta() ? a.size(r - 2) : a.size(r - 1);
    long kb = tb() ? b.size(r - 1) : b.size(r - 2);
    long n = tb() ? b.size(r - 2) : b.size(r - 1);
    if (ka != kb) {
      throw new IllegalArgumentException(OP_NAME + ": inner sizes differ: "
          + java.util.Arrays.toString(a.shape()) + " x " + java.util.Arrays.toString(b.shape()));
    }
    s[r - 2] = m;
    s[r - 1] = n;
    return s;
  }

  @Override
  boolean computesInto() {
    return true;
  }

  @Override
  void compute(List<INDArray> in, INDArray out) {
    INDArray a = plain(in.get(0));
    INDArray b = plain(in.get(1));
    if (!isPlain(out)) {
      throw new IllegalArgumentException(OP_NAME + ": output must be float32 in c order");
    }
    int r = a.rank();
    int rowsA = (int) a.size(r - 2);
    int colsA = (int) a.size(r - 1);
    int rowsB = (int) b.size(r - 2);
    int colsB = (int) b.size(r - 1);
    int m = (int) out.size(r - 2);
    int n = (int) out.size(r - 1);
    int k = ta() ? rowsA : colsA;
    long batch = out.length() / ((long) m * n);
    FloatPointer pa = new FloatPointer(a.data().addressPointer());
    FloatPointer pb = new FloatPointer(b.data().addressPointer());
    FloatPointer pc = new FloatPointer(out.data().addressPointer());
    long sa = (long) rowsA * colsA;
    long sb = (long) rowsB * colsB;
    long sc = (long) m * n;
    for (long i = 0; i < batch; i++) {
      pa.position(i * sa);
      pb.position(i * sb);
      pc.position(i * sc);
      openblas_nolapack.cblas_sgemm(ROW_MAJOR, ta() ? TRANS : NO_TRANS, tb() ? TRANS : NO_TRANS,
          m, n, k, 1f, pa, colsA, pb, colsB, 0f, pc, n);
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
    SDVariable da;
    SDVariable db;
    if (!ta && !tb) { // C = A B
      da = of(sameDiff, dc, b, false, true);
      db = of(sameDiff, a, dc, true, false);
    } else if (!ta) { // C = A B^T
      da = of(sameDiff, dc, b, false, false);
      db = of(sameDiff, dc, a, true, false);
    } else if (!tb) { // C = A^T B
      da = of(sameDiff, b, dc, false, true);
      db = of(sameDiff, a, dc, false, false);
    } else { // C = A^T B^T
      da = of(sameDiff, b, dc, true, true);
      db = of(sameDiff, dc, a, true, true);
    }
    return List.of(da, db);
  }

  private static void register() {
    if (registered) {
      return;
    }
    synchronized (BatchedMatMul.class) {
      if (!registered) {
        DifferentialFunctionClassHolder.getInstance();
        ImportClassMapping.getOpNameMapping().put(OP_NAME, new BatchedMatMul());
        registered = true;
      }
    }
  }
}
