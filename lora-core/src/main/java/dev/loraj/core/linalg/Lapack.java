package dev.loraj.core.linalg;

import com.google.common.util.concurrent.Uninterruptibles;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.IntSupplier;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Glue between ND4J arrays and LAPACKE on the OpenBLAS that ND4J bundles
 * ({@code org.bytedeco.openblas.global.openblas}). Everything here is row-major
 * ({@code LAPACK_ROW_MAJOR}), so the leading dimension of an {@code [rows, cols]} matrix is
 * {@code cols}.
 *
 * <p>Inputs are copied into fresh {@code float[]}: LAPACK overwrites its arguments and the
 * public API promises never to mutate the caller's arrays.
 *
 * <p><b>Stack size.</b> OpenBLAS 0.3.19's multithreaded LAPACK paths (seen with {@code sgesv}
 * from n = 32 on) need more than the JVM's default 1 MiB thread stack: called from an ordinary
 * Java thread they crash the JVM with SIGSEGV (no hs_err file); {@code -Xss8m} was enough up to
 * n = 4096, {@code -Xss4m} was not. So every LAPACK call goes through {@link #call}, which runs it
 * on one daemon thread with a {@value #STACK_BYTES}-byte stack. This serializes LAPACK calls
 * across caller threads; OpenBLAS parallelizes inside each call.
 */
final class Lapack {
  private Lapack() {}

  /** Reserved (not committed) stack of the LAPACK thread: 8x the measured need. */
  static final long STACK_BYTES = 64L << 20;

  private static final ThreadLocal<Boolean> ON_LAPACK_THREAD =
      ThreadLocal.withInitial(() -> false);

  private static final ExecutorService LAPACK_THREAD =
      Executors.newSingleThreadExecutor(
          task -> {
            Runnable marked = () -> {
              ON_LAPACK_THREAD.set(true);
              task.run();
            };
            Thread t = new Thread(null, marked, "loraj-lapack", STACK_BYTES);
            t.setDaemon(true);
            return t;
          });

  /** Runs one LAPACKE call on the large-stack LAPACK thread and returns its {@code info}. */
  static int call(IntSupplier lapackCall) {
    if (ON_LAPACK_THREAD.get()) {
      return lapackCall.getAsInt(); // already there (nested use): run inline
    }
    Future<Integer> result = LAPACK_THREAD.submit(lapackCall::getAsInt);
    try {
      // uninterruptible: LAPACK cannot be cancelled and still writes into our arrays
      return Uninterruptibles.getUninterruptibly(result);
    } catch (ExecutionException e) {
      Throwable cause = e.getCause();
      if (cause instanceof RuntimeException re) {
        throw re;
      }
      if (cause instanceof Error err) {
        throw err;
      }
      throw new IllegalStateException("LAPACK call failed", cause);
    }
  }

  /**
   * Validates {@code a} (non-null, rank 2, FLOAT, non-empty, all entries finite) and returns a
   * row-major copy of its entries.
   *
   * @param name the parameter name used in error messages
   */
  static float[] rowMajorCopy(INDArray a, String name) {
    requireMatrix(a, name);
    long length = a.length();
    if (length > Integer.MAX_VALUE - 8) {
      throw new IllegalArgumentException(
          name + " has " + length + " entries; at most " + (Integer.MAX_VALUE - 8)
              + " are accepted (LAPACK uses 32-bit indices here)");
    }
    // asFloat() copies; a dense c-order array with no offset can be read directly.
    INDArray dense = isPlainC(a) ? a : a.dup('c');
    float[] data = dense.data().asFloat();
    if (data.length != length) {
      data = java.util.Arrays.copyOf(data, (int) length);
    }
    requireFinite(data, a, name);
    return data;
  }

  /** Checks shape and dtype only (cheap); finiteness is checked by {@link #requireFinite}. */
  static void requireMatrix(INDArray a, String name) {
    if (a == null) {
      throw new IllegalArgumentException(name + " must not be null");
    }
    if (a.rank() != 2) {
      throw new IllegalArgumentException(
          name + " must be a matrix (rank 2), got rank " + a.rank() + " with shape "
              + java.util.Arrays.toString(a.shape()));
    }
    if (a.dataType() != DataType.FLOAT) {
      throw new IllegalArgumentException(
          name + " must have data type FLOAT, got " + a.dataType()
              + " (cast with a.castTo(DataType.FLOAT))");
    }
    if (a.rows() == 0 || a.columns() == 0) {
      throw new IllegalArgumentException(
          name + " must be non-empty, got shape " + java.util.Arrays.toString(a.shape()));
    }
  }

  /**
   * Rejects NaN/Inf without copying: a finite float sum proves every entry finite; only when the
   * sum is not finite (a non-finite entry, or a genuine overflow of huge values) is every entry
   * scanned.
   */
  static void requireFinite(INDArray a, String name) {
    if (Double.isFinite(a.sumNumber().doubleValue())) {
      return;
    }
    requireFinite(a.dup('c').data().asFloat(), a, name);
  }

  private static void requireFinite(float[] data, INDArray a, String name) {
    long cols = a.columns();
    for (int i = 0; i < data.length; i++) {
      if (!Float.isFinite(data[i])) {
        throw new IllegalArgumentException(
            name + " must contain only finite values, found " + data[i] + " at ["
                + (i / cols) + ", " + (i % cols) + "]");
      }
    }
  }

  static void check(int info, String routine, String positiveMeaning) {
    if (info < 0) {
      throw new LapackException(routine, info, "argument " + (-info) + " had an illegal value");
    }
    if (info > 0) {
      throw new LapackException(routine, info, positiveMeaning);
    }
  }

  /** Wraps row-major data as a new FLOAT matrix {@code [rows, cols]}. */
  static INDArray matrix(float[] data, long rows, long cols) {
    return Nd4j.create(data, new long[] {rows, cols}, 'c');
  }

  /** Wraps data as a new FLOAT vector {@code [length]}. */
  static INDArray vector(float[] data) {
    return Nd4j.create(data, new long[] {data.length}, DataType.FLOAT);
  }

  static int intDim(long dim, String name) {
    if (dim > Integer.MAX_VALUE) {
      throw new IllegalArgumentException(name + " dimension " + dim + " exceeds 2^31-1");
    }
    return (int) dim;
  }

  private static boolean isPlainC(INDArray a) {
    return a.ordering() == 'c' && !a.isView() && a.offset() == 0
        && a.data().length() == a.length();
  }
}
