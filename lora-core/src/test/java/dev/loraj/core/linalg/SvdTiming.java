package dev.loraj.core.linalg;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Measurement, not a test: exact vs randomized SVD time and the randomized top-r error, on
 * n x n matrices with a power-law spectrum {@code s_i = (i + 1)^-1/2} (a rough stand-in for a
 * trained weight matrix) and on a Gaussian matrix (flat spectrum: the hard case).
 *
 * <pre>
 *   CP=lora-core/target/test-classes:lora-core/target/classes:$(cat /tmp/cp.txt)
 *   (. scripts/blas-env.sh; java -Xmx6g -cp $CP dev.loraj.core.linalg.SvdTiming 1024 4096)
 * </pre>
 *
 * Errors printed: {@code sErr} = max_i |s~_i - s_i| / s_i over the top r; {@code topErr} =
 * ||A~_r - A_r||_F / ||A_r||_F against the exact truncated SVD; {@code optimality} =
 * ||A - A~_r||_F / ||A - A_r||_F (1 = as good as the exact truncation).
 */
public final class SvdTiming {
  private SvdTiming() {}

  public static void main(String[] args) {
    int rank = 16;
    for (String arg : args) {
      int n = Integer.parseInt(arg);
      float[] spectrum = new float[n];
      for (int i = 0; i < n; i++) {
        spectrum[i] = (float) (1 / Math.sqrt(i + 1));
      }
      run("power-law", Matrices.withSpectrum(n, n, spectrum, 1), rank);
      run("gaussian", Matrices.gaussian(n, n, 2), rank);
    }
  }

  private static void run(String kind, INDArray a, int rank) {
    long n = a.rows();
    Svd.exact(Matrices.gaussian(64, 64, 0)); // warm-up LAPACK thread and natives
    Svd.randomized(Matrices.gaussian(256, 256, 0), rank, 2, 1L); // and the JIT
    long t0 = System.nanoTime();
    long c0 = OS.getProcessCpuTime();
    SvdResult exact = Svd.exact(a);
    double exactSec = (System.nanoTime() - t0) / 1e9;
    double exactCpu = (OS.getProcessCpuTime() - c0) / 1e9;
    System.out.printf("%s %dx%d exact sgesdd: %.2f s wall, %.2f s CPU, reconstruction rel max err"
        + " %.2g%n", kind, n, n, exactSec, exactCpu, Matrices.relMaxError(exact.reconstruct(), a));
    SvdResult top = exact.top(rank);
    INDArray aR = top.reconstruct();
    double tailNorm = a.sub(aR).norm2Number().doubleValue();
    for (int niter : new int[] {2, 4}) {
      for (int oversample : new int[] {0, 10}) {
        long t1 = System.nanoTime();
        long c1 = OS.getProcessCpuTime();
        SvdResult approx = Svd.randomized(a, rank, niter, oversample, 7L);
        double sec = (System.nanoTime() - t1) / 1e9;
        double cpu = (OS.getProcessCpuTime() - c1) / 1e9;
        INDArray approxR = approx.reconstruct();
        double sErr = Nd4j.math().abs(approx.s().sub(top.s())).div(top.s())
            .maxNumber().doubleValue();
        System.out.printf(
            "  randomized r=%d niter=%d oversample=%d: %.3f s wall, %.3f s CPU, sErr %.2g, "
                + "topErr %.2g, optimality %.4f%n",
            rank, niter, oversample, sec, cpu, sErr,
            Matrices.relFrobError(approxR, aR),
            a.sub(approxR).norm2Number().doubleValue() / tailNorm);
      }
    }
  }

  /** Process CPU time: less distorted than wall time when other jobs share the cores. */
  private static final com.sun.management.OperatingSystemMXBean OS =
      (com.sun.management.OperatingSystemMXBean)
          java.lang.management.ManagementFactory.getOperatingSystemMXBean();

  static {
    Nd4j.setDefaultDataTypes(DataType.FLOAT, DataType.FLOAT);
  }
}
