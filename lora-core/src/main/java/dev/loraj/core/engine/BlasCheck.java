package dev.loraj.core.engine;

import com.sun.jna.Function;
import com.sun.jna.Pointer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SplittableRandom;
import org.bytedeco.javacpp.Loader;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Is ND4J's BLAS computing the right numbers with the kernel it picked, and which kernel is it?
 *
 * <p>OpenBLAS 0.3.19 (bundled with ND4J 1.0.0-M2.1) picks its kernel when it loads, from the CPU
 * or from {@code OPENBLAS_CORETYPE} ({@code scripts/blas-env.sh} sets it from the CPU flags).
 * A coretype the CPU does not fully support can silently compute wrong results, so
 * {@link #gemmMaxRelativeError} compares an sgemm through ND4J with a plain Java product, and
 * {@link #describe} records the kernel for a result's provenance.
 *
 * <p>Two OpenBLAS copies live in an ND4J process, {@code libopenblas.so.0} (with LAPACK; libnd4jcpu
 * links against it) and {@code libopenblas_nolapack.so.0}, both from the bytedeco openblas jar;
 * each reads {@code OPENBLAS_CORETYPE} when it loads.
 */
public final class BlasCheck {
  private BlasCheck() {}

  /**
   * {@link #gemmMaxRelativeError(int, int, int, long)} on {@code [257, 131] x [131, 193]}: odd
   * sizes that exercise the kernels' edge (remainder) paths, not only full register blocks.
   */
  public static double gemmMaxRelativeError(long seed) {
    return gemmMaxRelativeError(257, 131, 193, seed);
  }

  /**
   * Multiplies uniform random FLOAT matrices {@code A [m, k]} and {@code B [k, n]} with
   * {@link Nd4j#gemm} (sgemm) and returns
   *
   * <pre>  max_ij |C_ij - R_ij| / sum_l |A_il| |B_lj|</pre>
   *
   * where R is the product accumulated in double by a triple loop. The denominator is the scale
   * of the standard dot-product error bound {@code |fl(a.b) - a.b| <= gamma_k |a|.|b|}
   * (Higham, Accuracy and Stability of Numerical Algorithms, 2nd ed., eq. 3.5), so a correct
   * float kernel gives about k * 2^-24 at worst and typically far less, while a broken kernel
   * gives O(1); entries of C near zero do not inflate it.
   */
  public static double gemmMaxRelativeError(int m, int k, int n, long seed) {
    if (m < 1 || k < 1 || n < 1) {
      throw new IllegalArgumentException(
          "m, k, n must be >= 1, got m=" + m + ", k=" + k + ", n=" + n);
    }
    SplittableRandom rng = new SplittableRandom(seed);
    float[] a = uniform(rng, m * k); // [m, k] row-major
    float[] b = uniform(rng, k * n); // [k, n] row-major
    INDArray c = Nd4j.gemm( // [m, k] x [k, n]
        Nd4j.create(a, new long[] {m, k}, 'c'), Nd4j.create(b, new long[] {k, n}, 'c'),
        false, false);
    float[] cFlat = c.dup('c').data().asFloat();

    double worst = 0;
    double[] ref = new double[n];
    double[] scale = new double[n];
    for (int i = 0; i < m; i++) {
      java.util.Arrays.fill(ref, 0);
      java.util.Arrays.fill(scale, 0);
      for (int l = 0; l < k; l++) {
        double ail = a[i * k + l];
        for (int j = 0; j < n; j++) {
          double bl = b[l * n + j];
          ref[j] += ail * bl;
          scale[j] += Math.abs(ail * bl);
        }
      }
      for (int j = 0; j < n; j++) {
        double err = Math.abs(cFlat[i * n + j] - ref[j]) / Math.max(scale[j], Double.MIN_NORMAL);
        if (Double.isNaN(err)) {
          return err; // a NaN from the kernel is the worst possible answer
        }
        worst = Math.max(worst, err);
      }
    }
    return worst;
  }

  /**
   * One line for provenance, e.g.
   * {@code OPENBLAS_CORETYPE=SkylakeX; openblas core=SkylakeX threads=2
   * (libopenblas_nolapack.so.0); nd4j blas.threads=2 omp.threads=2}.
   *
   * <p>The core name and thread count come from OpenBLAS's {@code openblas_get_corename()} and
   * {@code openblas_get_num_threads()}, which the JavaCPP preset does not map: the symbol is
   * resolved with JavaCPP's {@link Loader#addressof} and called through JNA's
   * {@link Function#getFunction(Pointer)} (opening the library with JNA's {@code NativeLibrary}
   * instead makes OpenBLAS print "Bad memory unallocation" at JVM exit). That resolves to one of
   * the two loaded OpenBLAS copies, named in parentheses; both pick their kernel the same way.
   * "unknown" when a value cannot be read.
   */
  public static String describe() {
    java.util.Properties env = Nd4j.getExecutioner().getEnvironmentInformation(); // loads natives
    String coretype = System.getenv("OPENBLAS_CORETYPE");
    return "OPENBLAS_CORETYPE=" + (coretype == null ? "(unset)" : coretype)
        + "; openblas core=" + coreName() + " threads=" + numThreads()
        + " (" + libraryOf("openblas_get_corename") + ")"
        + "; nd4j blas.threads=" + env.get("blas.threads")
        + " omp.threads=" + env.get("omp.threads");
  }

  /**
   * A note when the environment pins {@code OPENBLAS_CORETYPE} to a kernel other than the one
   * the CPU's flags select ({@code LORA_BLAS_CPU_CORETYPE}, exported by
   * {@code scripts/blas-env.sh}); {@code null} otherwise. On an AVX-512 CPU pinned to
   * {@code Haswell}, the GEMMs of a training step ran at about half the speed.
   */
  public static String pinNote(java.util.Map<String, String> env) {
    String pinned = env.get("OPENBLAS_CORETYPE");
    String cpu = env.get("LORA_BLAS_CPU_CORETYPE");
    if (pinned == null || cpu == null || pinned.isBlank() || cpu.isBlank()
        || pinned.trim().equalsIgnoreCase(cpu.trim())) {
      return null;
    }
    return "OpenBLAS kernel " + pinned.trim() + " is pinned by OPENBLAS_CORETYPE in the environment;"
        + " this CPU's flags select " + cpu.trim() + " (scripts/blas-env.sh keeps a pinned value;"
        + " see docs/engine.md, BLAS kernel and threads)";
  }

  /** The kernel OpenBLAS chose, e.g. "SkylakeX", "Haswell", "Zen", "Prescott"; or "unknown". */
  public static String coreName() {
    try {
      String name = function("openblas_get_corename").invokeString(new Object[0], false);
      return name == null ? "unknown" : name.trim();
    } catch (RuntimeException | LinkageError e) {
      return "unknown";
    }
  }

  private static String numThreads() {
    try {
      return Integer.toString(function("openblas_get_num_threads").invokeInt(new Object[0]));
    } catch (RuntimeException | LinkageError e) {
      return "unknown";
    }
  }

  private static Function function(String symbol) {
    Loader.load(org.bytedeco.openblas.global.openblas.class);
    org.bytedeco.javacpp.Pointer p = Loader.addressof(symbol);
    if (p == null || p.isNull()) {
      throw new UnsatisfiedLinkError("symbol not found: " + symbol);
    }
    return Function.getFunction(new Pointer(p.address()));
  }

  /** File name of the mapped library containing {@code symbol}, from /proc/self/maps. */
  private static String libraryOf(String symbol) {
    try {
      long address = Loader.addressof(symbol).address();
      for (String line : Files.readAllLines(Path.of("/proc/self/maps"))) {
        String[] range = line.split("\\s+", 2)[0].split("-");
        if (Long.compareUnsigned(Long.parseUnsignedLong(range[0], 16), address) <= 0
            && Long.compareUnsigned(address, Long.parseUnsignedLong(range[1], 16)) < 0) {
          int slash = line.lastIndexOf('/');
          return slash < 0 ? "?" : line.substring(slash + 1);
        }
      }
    } catch (IOException | RuntimeException e) {
      // not Linux, or no such symbol: fall through
    }
    return "?";
  }

  private static float[] uniform(SplittableRandom rng, int count) {
    float[] v = new float[count];
    for (int i = 0; i < count; i++) {
      v[i] = (float) (2 * rng.nextDouble() - 1);
    }
    return v;
  }
}
