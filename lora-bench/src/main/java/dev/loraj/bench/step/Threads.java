package dev.loraj.bench.step;

import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.nativeblas.NativeOpsHolder;

/**
 * The CPU threads ND4J uses: OpenMP's (libnd4j's loops), OpenBLAS's (GEMM) and libnd4j's own
 * thread cap. Measured on 1.0.0-M2.1: the OpenMP and OpenBLAS counts and the master-thread
 * count change at run time, but {@code Environment.setMaxThreads} is a no-op (its value stays
 * what {@code OMP_NUM_THREADS} said when the JVM started), so the {@code lora} launcher exports
 * {@code OMP_NUM_THREADS} from {@code --threads}; {@link Settings#consistent} tells whether all
 * pools agree.
 */
public final class Threads {
  private Threads() {}

  /** Current settings, for reports: OpenMP max threads and the BLAS thread count. */
  public record Settings(int omp, int blas, int maxThreads, int maxMasterThreads) {
    /** Whether every pool has {@code n} threads. */
    public boolean consistent(int n) {
      return omp == n && blas == n && maxThreads == n && maxMasterThreads == n;
    }
  }

  /**
   * Sets every thread pool ND4J 1.0.0-M2.1 runs CPU work on to {@code n} threads.
   *
   * @throws IllegalArgumentException if {@code n < 1}
   */
  public static Settings set(int n) {
    if (n < 1) {
      throw new IllegalArgumentException("threads = " + n + ": must be >= 1");
    }
    Nd4j.getExecutioner(); // loads the backend: NativeOpsHolder reads its properties
    Nd4j.getEnvironment().setMaxThreads(n); // libnd4j's per-op thread cap
    Nd4j.getEnvironment().setMaxMasterThreads(n);
    NativeOpsHolder.getInstance().getDeviceNativeOps().setOmpNumThreads(n); // omp_set_num_threads
    Nd4j.factory().blas().setMaxThreads(n); // openblas_set_num_threads
    return current();
  }

  public static Settings current() {
    Nd4j.getExecutioner();
    return new Settings(NativeOpsHolder.getInstance().getDeviceNativeOps().ompGetMaxThreads(),
        Nd4j.factory().blas().getMaxThreads(), Nd4j.getEnvironment().maxThreads(),
        Nd4j.getEnvironment().maxMasterThreads());
  }
}
