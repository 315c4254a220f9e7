package dev.loraj.core.engine;

import java.util.Arrays;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Measurement, not a test: sgemm GFLOP/s through ND4J at n x n x n, plus {@link BlasCheck}'s
 * correctness figure and {@link BlasCheck#describe()}. Run it once with and once without the
 * kernel chosen by {@code scripts/blas-env.sh}:
 *
 * <pre>
 *   mvn -q -o -pl lora-core test-compile dependency:build-classpath -Dmdep.outputFile=/tmp/cp.txt
 *   CP=lora-core/target/test-classes:lora-core/target/classes:$(cat /tmp/cp.txt)
 *   env -u OPENBLAS_CORETYPE java -cp $CP dev.loraj.core.engine.GemmThroughput 1024
 *   (. scripts/blas-env.sh; java -cp $CP dev.loraj.core.engine.GemmThroughput 1024)
 * </pre>
 *
 * On a shared machine, prefer the "per CPU-second" figure with {@code OPENBLAS_NUM_THREADS=1}.
 */
public final class GemmThroughput {
  private GemmThroughput() {}

  public static void main(String[] args) {
    int n = args.length > 0 ? Integer.parseInt(args[0]) : 1024;
    int reps = args.length > 1 ? Integer.parseInt(args[1]) : 15;
    System.out.println("blas: " + BlasCheck.describe());
    System.out.printf("max rel error 257x131x193: %.3g%n", BlasCheck.gemmMaxRelativeError(42L));
    INDArray a = Nd4j.rand(DataType.FLOAT, n, n);
    INDArray b = Nd4j.rand(DataType.FLOAT, n, n);
    INDArray c = Nd4j.createUninitialized(DataType.FLOAT, n, n);
    for (int i = 0; i < 3; i++) {
      a.mmul(b, c); // warm-up
    }
    var os = (com.sun.management.OperatingSystemMXBean)
        java.lang.management.ManagementFactory.getOperatingSystemMXBean();
    long cpu0 = os.getProcessCpuTime();
    double[] seconds = new double[reps];
    for (int i = 0; i < reps; i++) {
      long t0 = System.nanoTime();
      a.mmul(b, c); // [n, n] x [n, n]
      seconds[i] = (System.nanoTime() - t0) / 1e9;
    }
    double cpuSeconds = (os.getProcessCpuTime() - cpu0) / 1e9;
    Arrays.sort(seconds);
    double flops = 2.0 * n * n * n;
    System.out.printf("sgemm %d^3: median %.2f ms = %.1f GFLOP/s (best %.1f GFLOP/s, %d reps)%n",
        n, seconds[reps / 2] * 1e3, flops / seconds[reps / 2] / 1e9, flops / seconds[0] / 1e9,
        reps);
    // CPU time is less sensitive to other processes sharing the cores than wall time; with
    // OPENBLAS_NUM_THREADS=1 it measures the kernel itself (no spinning worker threads)
    System.out.printf("sgemm %d^3: %.1f GFLOP per process CPU-second%n",
        n, flops * reps / cpuSeconds / 1e9);
  }
}
