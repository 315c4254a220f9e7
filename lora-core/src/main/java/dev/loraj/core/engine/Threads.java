package dev.loraj.core.engine;

import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.nativeblas.NativeOpsHolder;

/**
 * The CPU threads a training step runs on, set where they pay.
 *
 * <p>A step's time is mostly matrix products (frozen and adapter GEMMs, attention's per-head
 * products, LAPACK in the SVD initialisations), which OpenBLAS splits well over cores; the rest
 * is element-wise and row work, done either by the Vector API kernels of this project or by
 * libnd4j's own loops. {@link #configure(int) configure(n)} therefore sets:
 *
 * <ul>
 *   <li><b>Matrix products</b>: in a replayed step, split by the engine into contiguous parts
 *       (rows or columns of a product, matrices of a batched product, row chunks of a quantized
 *       weight), each part one single-threaded sgemm, on the caller and a {@link KernelTeam} of
 *       {@code n - 1} workers, with OpenBLAS on one thread meanwhile ({@link #callerBlas()});
 *       elsewhere (SameDiff's own runs, LAPACK) on OpenBLAS's {@code n} threads
 *       ({@code openblas_set_num_threads}, in both OpenBLAS copies ND4J loads: the one without
 *       LAPACK that ND4J's GEMMs call and the one with LAPACK; OpenBLAS is built with pthreads
 *       here, so its thread count is its own, apart from OpenMP's).
 *   <li><b>Vector API kernels</b> (GELU, SiLU, softmax, exp, cross-entropy, column sums): split
 *       over rows (or aligned element ranges) on {@code n} threads (the caller and a {@link KernelTeam}), and
 *       only when each part has at least {@link #minChunk()} floats ({@code
 *       -Dloraj.parallelMinElements}, default 32768), below which handing the work over costs more
 *       than it saves. Parts start at multiples of the vector width, so every element is computed
 *       by the same instructions as on one thread: the kernels' results do not depend on {@code n}.
 *   <li><b>libnd4j's loops</b> (adds, multiplies, reductions): {@code min(n, nd4jThreads)} threads,
 *       {@code -Dloraj.nd4jThreads}, by default {@code OMP_NUM_THREADS} at start, else 1. On a training step's tensors ([1024, 384] and
 *       smaller) libnd4j's per-op thread hand-off costs more than the loop; and its thread pool is
 *       sized once, from {@code OMP_NUM_THREADS} when the JVM starts ({@code
 *       Environment.setMaxThreads} is a no-op in 1.0.0-M2.1), so more than that start value
 *       cannot be had later.
 * </ul>
 *
 * <p>Determinism: for a given {@code n} every part is fixed by the sizes alone, so a step gives
 * the same bits run after run. Across {@code n}, the kernels and libnd4j's single-threaded loops
 * give the same bits; a product split in parts (by the engine or by OpenBLAS) agrees with the
 * unsplit one to float rounding at most.
 */
public final class Threads {
  private Threads() {}

  private static volatile long gemmMinPart = Long.getLong("loraj.gemmMinPart", 1L << 20);

  private static volatile int minChunk = Integer.getInteger("loraj.parallelMinElements", 1 << 15);
  private static final int ND4J_THREADS = Integer.getInteger("loraj.nd4jThreads", ompAtStart());

  private static volatile int kernels = 1;
  private static volatile KernelTeam team;

  /**
   * What each pool runs on: the requested count, OpenBLAS's, OpenMP's (libnd4j), libnd4j's
   * thread cap and master threads, and the Vector API kernels'.
   */
  public record Settings(int requested, int blas, int omp, int nd4jMaxThreads,
      int nd4jMasterThreads, int kernels) {
    /** Whether GEMMs and kernels run on {@code n} threads, libnd4j's loops on at most {@code n}. */
    public boolean matches(int n) {
      return blas == n && kernels == n && omp <= n && nd4jMasterThreads <= n;
    }
  }

  /**
   * Runs GEMMs and the Vector API kernels on {@code n} threads and libnd4j's loops on
   * {@code min(n, -Dloraj.nd4jThreads)} (see the class comment).
   *
   * @throws IllegalArgumentException if {@code n < 1}
   */
  public static synchronized Settings configure(int n) {
    if (n < 1) {
      throw new IllegalArgumentException("threads = " + n + ": must be >= 1");
    }
    Nd4j.getExecutioner(); // loads the backend
    int loops = Math.max(1, Math.min(n, ND4J_THREADS));
    Nd4j.getEnvironment().setMaxMasterThreads(loops);
    Nd4j.getEnvironment().setMaxThreads(loops);
    NativeOpsHolder.getInstance().getDeviceNativeOps().setOmpNumThreads(loops);
    Nd4j.factory().blas().setMaxThreads(n); // the OpenBLAS copy without LAPACK: ND4J's GEMMs
    try {
      org.bytedeco.openblas.global.openblas.blas_set_num_threads(n); // the copy with LAPACK
    } catch (LinkageError e) {
      // not on this class path (a GPU backend): nothing to set
    }
    if (n != kernels) {
      KernelTeam old = team;
      team = n > 1 ? new KernelTeam(n) : null;
      kernels = n;
      if (old != null) {
        old.close();
      }
    }
    return current(n);
  }

  /**
   * Applies the thread count the process was started with: {@code -Dloraj.threads=N}, else the
   * environment variable {@code LORA_THREADS} (the {@code lora} launcher exports it from
   * {@code --threads}); nothing when neither is set (ND4J's own start-up values stay).
   *
   * @throws IllegalArgumentException if the value is not an integer >= 1
   */
  public static void configureFromSettings() {
    String p = System.getProperty("loraj.threads");
    String source = "loraj.threads";
    if (p == null || p.isBlank()) {
      p = System.getenv("LORA_THREADS");
      source = "LORA_THREADS";
    }
    if (p == null || p.isBlank()) {
      return;
    }
    int n;
    try {
      n = Integer.parseInt(p.trim());
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(source + " = '" + p + "': must be an integer >= 1");
    }
    if (n < 1) {
      throw new IllegalArgumentException(source + " = " + n + ": must be >= 1");
    }
    configure(n);
  }

  /** The settings in force, {@code requested} being the kernels' thread count. */
  public static Settings current() {
    return current(kernels);
  }

  private static Settings current(int requested) {
    Nd4j.getExecutioner();
    return new Settings(requested, Nd4j.factory().blas().getMaxThreads(),
        NativeOpsHolder.getInstance().getDeviceNativeOps().ompGetMaxThreads(),
        Nd4j.getEnvironment().maxThreads(), Nd4j.getEnvironment().maxMasterThreads(), kernels);
  }

  /** Threads of the Vector API kernels (1 until {@link #configure} says otherwise). */
  public static int kernelThreads() {
    return kernels;
  }

  /** The fewest floats one part of a split kernel gets. */
  public static int minChunk() {
    return minChunk;
  }

  /**
   * Sets {@link #minChunk()} (tests split small tensors with it) and returns the previous value.
   *
   * @throws IllegalArgumentException if {@code floats < 1}
   */
  public static int setMinChunk(int floats) {
    if (floats < 1) {
      throw new IllegalArgumentException("minChunk = " + floats + ": must be >= 1");
    }
    int old = minChunk;
    minChunk = floats;
    return old;
  }

  /**
   * The fewest multiply-adds a part of a split matrix product gets ({@code -Dloraj.gemmMinPart},
   * default 2^20, about 10 us on one core): below this, handing a part to another thread costs
   * more than it saves.
   */
  public static long gemmMinPart() {
    return gemmMinPart;
  }

  /**
   * Sets {@link #gemmMinPart()} (tests split small products with it) and returns the previous value.
   *
   * @throws IllegalArgumentException if {@code multiplyAdds < 1}
   */
  public static long setGemmMinPart(long multiplyAdds) {
    if (multiplyAdds < 1) {
      throw new IllegalArgumentException("gemmMinPart = " + multiplyAdds + ": must be >= 1");
    }
    long old = gemmMinPart;
    gemmMinPart = multiplyAdds;
    return old;
  }

  /** Work on the index range [from, to). */
  @FunctionalInterface
  public interface Range {
    void run(int from, int to);
  }

  /**
   * Runs {@code body} over [0, count) in contiguous parts on the kernel pool (the calling thread
   * takes the first), each part's start a multiple of {@code align}, each part at least
   * {@link #minChunk()} / {@code weight} indices ({@code weight}: floats per index, e.g. a row's
   * length); one part, on the caller, when the kernels run on one thread or the work is small.
   * The parts depend only on {@code count}, {@code align}, {@code weight} and the thread count.
   */
  public static void split(int count, int align, long weight, Range body) {
    long w = Math.max(1, weight);
    splitParts(count, align, Math.max(1, (minChunk + w - 1) / w), body);
  }

  /**
   * As {@link #split}, with each part at least {@code minIndices} indices long (work whose cost
   * per index is not a count of floats, such as a GEMM's rows).
   */
  public static void splitParts(int count, int align, long minIndices, Range body) {
    KernelTeam t = team;
    int parts = t == null ? 1 : (int) Math.min(t.size(), count / Math.max(Math.max(1, minIndices), align));
    if (parts < 2) {
      body.run(0, count);
      return;
    }
    t.run(count, (int) ((((long) count + parts - 1) / parts + align - 1) / align * align), body);
  }

  /**
   * Runs the parts of a matrix product ({@code multiplyAdds} per index of [0, count)): while
   * OpenBLAS runs on its callers' threads ({@link #callerBlas()}), as {@link #splitParts} with each
   * part at least {@link #gemmMinPart()} multiply-adds; otherwise as one part on the caller, where
   * OpenBLAS threads each product itself.
   */
  public static void splitProducts(int count, int align, long multiplyAdds, Range body) {
    if (!blasOnCallers()) {
      body.run(0, count);
      return;
    }
    long w = Math.max(1, multiplyAdds);
    splitParts(count, align, (gemmMinPart + w - 1) / w, body);
  }

  /** Work during which OpenBLAS runs on its callers' threads; closing it ends that. */
  public interface Scope extends AutoCloseable {
    @Override
    void close();
  }

  private static int callerBlasDepth;

  /**
   * Puts OpenBLAS (the copy ND4J's GEMMs call) on one thread until the returned scope closes, so
   * that products split over the kernel pool run as one single-threaded sgemm per part instead of
   * queueing for OpenBLAS's own threads; on close the configured count returns. Scopes nest (the
   * outermost restores). With one kernel thread nothing changes.
   */
  public static Scope callerBlas() {
    synchronized (Threads.class) {
      if (kernels < 2) {
        return () -> {};
      }
      if (callerBlasDepth++ == 0) {
        Nd4j.factory().blas().setMaxThreads(1);
      }
    }
    return () -> {
      synchronized (Threads.class) {
        if (--callerBlasDepth == 0) {
          Nd4j.factory().blas().setMaxThreads(kernels);
        }
      }
    };
  }

  /** Whether OpenBLAS runs on its callers' threads now ({@link #callerBlas()}). */
  public static boolean blasOnCallers() {
    synchronized (Threads.class) {
      return callerBlasDepth > 0;
    }
  }

  /** {@code OMP_NUM_THREADS} as the process started, or 1 (unset or not a positive integer). */
  private static int ompAtStart() {
    try {
      return Math.max(1, Integer.parseInt(System.getenv().getOrDefault("OMP_NUM_THREADS", "1").trim()));
    } catch (NumberFormatException e) {
      return 1;
    }
  }
}
