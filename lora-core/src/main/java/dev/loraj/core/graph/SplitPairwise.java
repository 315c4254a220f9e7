package dev.loraj.core.graph;

import dev.loraj.core.engine.Threads;
import java.lang.ref.Reference;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.nd4j.autodiff.functions.DifferentialFunction;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.shape.Shape;

/**
 * A replayed element-wise {@code add}, {@code subtract}, {@code multiply} or {@code divide} of two
 * float32 arrays of the result's shape (or the second a row repeated over the first's rows, as a
 * bias), computed by the Vector API over aligned element ranges on the kernel pool
 * ({@link Threads#split}).
 *
 * <p>Why: libnd4j's loops stay on one thread ({@link Threads}), and a training step's residual,
 * bias and gradient sums are about 4% of its time on one thread; split, they scale with the
 * GEMMs. Each element is one IEEE operation on the same two floats, so the result is the bits
 * libnd4j computes, on any number of threads.
 */
final class SplitPairwise {
  private final int op;

  private SplitPairwise(int op) {
    this.op = op;
  }

  /** The split form of {@code op} when it is one of the four pairwise operations, else null. */
  static SplitPairwise of(DifferentialFunction op) {
    return switch (op.opName()) {
      case "add" -> new SplitPairwise(0);
      case "subtract" -> new SplitPairwise(1);
      case "multiply" -> new SplitPairwise(2);
      case "divide" -> new SplitPairwise(3);
      default -> null;
    };
  }

  /**
   * Computes {@code c = a (op) b} when all three are float32 in plain c order, {@code a} has
   * {@code c}'s length and {@code b} has it too or is as long as {@code c}'s last axis; returns
   * false, having done nothing, otherwise.
   */
  boolean run(INDArray a, INDArray b, INDArray c) {
    if (!plain(a) || !plain(b) || !plain(c) || c.rank() < 1) {
      return false;
    }
    long n = c.length();
    long cols = c.size(c.rank() - 1);
    if (a.length() != n || n > Integer.MAX_VALUE || !(b.length() == n || b.length() == cols && cols > 0)) {
      return false;
    }
    ByteBuffer x = data(a);
    ByteBuffer y = data(b);
    ByteBuffer z = data(c);
    try {
      if (b.length() == n) {
        Threads.split((int) n, VectorMath.lanes(), 1,
            (f, t) -> VectorMath.pairwise(op, VectorKernelOp.part(x, f, t), VectorKernelOp.part(y, f, t), VectorKernelOp.part(z, f, t), t - f));
      } else {
        int w = (int) cols;
        Threads.split((int) (n / w), 1, w, (f, t) -> {
          for (int r = f; r < t; r++) {
            VectorMath.pairwise(op, VectorKernelOp.part(x, r * w, r * w + w), y, VectorKernelOp.part(z, r * w, r * w + w), w);
          }
        });
      }
    } finally {
      Reference.reachabilityFence(a);
      Reference.reachabilityFence(b);
      Reference.reachabilityFence(c);
    }
    return true;
  }

  private static boolean plain(INDArray a) {
    return a.dataType() == DataType.FLOAT && a.ordering() == 'c' && a.offset() == 0
        && Shape.hasDefaultStridesForShape(a);
  }

  private static ByteBuffer data(INDArray a) {
    return a.data().asNio().order(ByteOrder.nativeOrder());
  }
}
