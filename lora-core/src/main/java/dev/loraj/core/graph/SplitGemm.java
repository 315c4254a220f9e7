package dev.loraj.core.graph;

import dev.loraj.core.engine.Threads;
import java.lang.ref.Reference;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.openblas.global.openblas_nolapack;
import org.nd4j.autodiff.functions.DifferentialFunction;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.impl.reduce.Mmul;

/**
 * A replayed float32 {@code matmul} ({@code C = op(A) op(B)}, rank 2) split over the kernel pool:
 * the rows of C (or its columns, when C is wider than tall) in contiguous parts, each part one
 * single-threaded {@code cblas_sgemm} on the caller's or a pool thread, with OpenBLAS on its
 * callers' threads for the whole replay ({@link Threads#callerBlas()}).
 *
 * <p>Why: OpenBLAS's own threading of a training step's products scales poorly on them. On the
 * 2-core machine of docs/benchmarks.md, a [1024, 384] x [384, 384] sgemm ran at 98 GFLOP/s on one
 * thread and 146 on two (1.5x), and thin products ([1024, 384] x [384, 8], [1024, 384] x [384, 1])
 * got slower on two threads; two halves of the rows on two threads run each at the one-thread
 * rate. The parts depend only on the sizes and the thread count, so a product gives the same bits
 * every time; against the unsplit product it agrees to float rounding (OpenBLAS chooses its
 * kernels by size, so a part may sum in another order than the whole).
 */
final class SplitGemm {
  /** Parts start at multiples of this many rows or columns (OpenBLAS's register block). */
  private static final int ALIGN = 16;
  private static final int ROW_MAJOR = 101;
  private static final int NO_TRANS = 111;
  private static final int TRANS = 112;

  private final boolean ta;
  private final boolean tb;

  private SplitGemm(boolean ta, boolean tb) {
    this.ta = ta;
    this.tb = tb;
  }

  /**
   * The split form of {@code op} when it is a plain {@code matmul} (transposes of A and B only, no
   * transposed result, alpha 1 and beta 0), else null.
   */
  static SplitGemm of(DifferentialFunction op, long[] iArgs, double[] tArgs) {
    if (!(op instanceof Mmul) || iArgs == null || iArgs.length < 3 || iArgs[2] != 0) {
      return null;
    }
    if (tArgs != null && tArgs.length > 0
        && !(tArgs.length == 2 && tArgs[0] == 1.0 && tArgs[1] == 0.0)) {
      return null;
    }
    return new SplitGemm(iArgs[0] != 0, iArgs[1] != 0);
  }

  /**
   * Computes {@code c = op(a) op(b)} in parts when OpenBLAS is on its callers' threads, the
   * arrays are float32 matrices in a layout sgemm reads (rows or columns contiguous, no offset)
   * and the product is large enough to split; returns false, having done nothing, otherwise.
   */
  boolean run(INDArray a, INDArray b, INDArray c) {
    if (Threads.kernelThreads() < 2 || !Threads.blasOnCallers()) {
      return false;
    }
    Mat x = Mat.of(a, ta);
    Mat y = Mat.of(b, tb);
    Mat z = Mat.of(c, false);
    if (x == null || y == null || z == null || z.trans) {
      return false;
    }
    long m = ta ? a.size(1) : a.size(0);
    long k = ta ? a.size(0) : a.size(1);
    long n = tb ? b.size(0) : b.size(1);
    if (m != c.size(0) || n != c.size(1) || k != (tb ? b.size(1) : b.size(0))
        || m * n * k < 2 * Threads.gemmMinPart() || Math.max(m, n) > Integer.MAX_VALUE) {
      return false;
    }
    boolean byRows = m >= n;
    long perIndex = (byRows ? n : m) * k;
    try {
      Threads.splitProducts((int) (byRows ? m : n), ALIGN, perIndex,
          (from, to) -> {
            FloatPointer pa = x.at(byRows ? from : 0);
            FloatPointer pb = y.atColumn(byRows ? 0 : from);
            FloatPointer pc = new FloatPointer(c.data().addressPointer())
                .position(byRows ? (long) from * z.ld : from);
            openblas_nolapack.cblas_sgemm(ROW_MAJOR, x.trans ? TRANS : NO_TRANS,
                y.trans ? TRANS : NO_TRANS, byRows ? to - from : (int) m,
                byRows ? (int) n : to - from, (int) k, 1f, pa, x.ld, pb, y.ld, 0f, pc, z.ld);
          });
    } finally {
      Reference.reachabilityFence(a);
      Reference.reachabilityFence(b);
      Reference.reachabilityFence(c);
    }
    return true;
  }

  /**
   * A matrix as sgemm reads it: its buffer in row-major terms with leading dimension {@code ld},
   * {@code trans} when the stored matrix is the transpose of the operand.
   */
  private record Mat(INDArray array, int ld, boolean trans) {
    static Mat of(INDArray a, boolean transposed) {
      if (a.rank() != 2 || a.dataType() != DataType.FLOAT || a.offset() != 0) {
        return null;
      }
      long rows = a.size(0);
      long cols = a.size(1);
      long rs = rows == 1 ? cols : a.stride(0);
      long cs = cols == 1 ? 1 : a.stride(1);
      if (cs == 1 && rs >= cols && rs <= Integer.MAX_VALUE) {
        return new Mat(a, (int) Math.max(1, rs), transposed); // rows contiguous
      }
      long rs2 = rows == 1 ? 1 : a.stride(0);
      long cs2 = cols == 1 ? rows : a.stride(1);
      if (rs2 == 1 && cs2 >= rows && cs2 <= Integer.MAX_VALUE) {
        return new Mat(a, (int) Math.max(1, cs2), !transposed); // columns contiguous: a^T stored
      }
      return null;
    }

    /** The operand's row {@code i} (as an op(A) factor: a row of the product's left side). */
    FloatPointer at(long i) {
      return new FloatPointer(array.data().addressPointer()).position(trans ? i : i * ld);
    }

    /** The operand's column {@code j} (as an op(B) factor: a column of the product). */
    FloatPointer atColumn(long j) {
      return new FloatPointer(array.data().addressPointer()).position(trans ? j * ld : j);
    }
  }
}
