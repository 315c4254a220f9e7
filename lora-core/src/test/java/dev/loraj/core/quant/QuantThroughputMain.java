package dev.loraj.core.quant;

import java.util.Arrays;
import java.util.Random;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Throughput of NF4 dequantization and of the chunked fused matmuls against plain float gemm,
 * for a 4096 x 4096 weight. A measurement, not a test (no timing assertions in tests).
 *
 * <p>Run from the repository root (no exec plugin needed):
 * <pre>
 * mvn -q -o -pl lora-core test-compile dependency:build-classpath -Dmdep.outputFile=/tmp/cp.txt
 * OPENBLAS_CORETYPE=SkylakeX java -Xmx8g \
 *     -cp "lora-core/target/classes:lora-core/target/test-classes:$(cat /tmp/cp.txt)" \
 *     dev.loraj.core.quant.QuantThroughputMain [d=4096] [reps=7]
 * </pre>
 * Prefix {@code OMP_NUM_THREADS=1} on a shared machine: oversubscribed OpenMP threads make the
 * many small gemms of the chunked path several times slower than they are.
 */
public final class QuantThroughputMain {
  private QuantThroughputMain() {
  }

  public static void main(String[] args) {
    int d = args.length > 0 ? Integer.parseInt(args[0]) : 4096;
    int reps = args.length > 1 ? Integer.parseInt(args[1]) : 7;
    System.out.printf("threads: omp=%s, d=%d, reps=%d, OPENBLAS_CORETYPE=%s%n",
        Nd4j.getEnvironment().maxMasterThreads(), d, reps, System.getenv("OPENBLAS_CORETYPE"));
    Random rnd = new Random(1234);
    float[] v = new float[d * d];
    for (int i = 0; i < v.length; i++) {
      v[i] = (float) (rnd.nextGaussian() * 0.02);
    }
    INDArray w = Nd4j.create(v, new long[] {d, d}, DataType.FLOAT);  // [out, in]
    for (boolean dq : new boolean[] {false, true}) {
      long t0 = System.nanoTime();
      QuantizedWeight q = QuantizedWeight.quantize(w, QuantFormat.NF4, 64, dq);
      double tq = (System.nanoTime() - t0) / 1e9;
      System.out.printf("%s: quantize %.2f s, %.4f bits/param, %d bytes (float32: %d)%n",
          q, tq, q.bitsPerParameter(), q.storageBytes(), 4L * d * d);
      int chunk = 256;
      float[] buf = new float[chunk * d];
      double[] ts = new double[reps];
      for (int rep = -2; rep < reps; rep++) {
        long s = System.nanoTime();
        for (int r0 = 0; r0 < d; r0 += chunk) {
          q.dequantizeRows(r0, Math.min(chunk, d - r0), buf);
        }
        if (rep >= 0) {
          ts[rep] = (System.nanoTime() - s) / 1e9;
        }
      }
      double med = median(ts);
      System.out.printf("  dequantizeRows (heap, 256-row chunks): median %.1f ms = %.0f M weights/s%n",
          med * 1e3, (double) d * d / med / 1e6);
      try (DequantBuffer db = new DequantBuffer(chunk, d)) {
        for (int rep = -2; rep < reps; rep++) {
          long s = System.nanoTime();
          for (int r0 = 0; r0 < d; r0 += chunk) {
            db.load(q, r0, Math.min(chunk, d - r0));
          }
          if (rep >= 0) {
            ts[rep] = (System.nanoTime() - s) / 1e9;
          }
        }
        med = median(ts);
        System.out.printf("  dequantize into native chunk:          median %.1f ms = %.0f M weights/s%n",
            med * 1e3, (double) d * d / med / 1e6);
        INDArray wf = q.dequantize();
        for (int n : new int[] {1, 16, 128, 512}) {
          INDArray x = Nd4j.rand(DataType.FLOAT, n, d);
          INDArray dy = Nd4j.rand(DataType.FLOAT, n, d);
          double fused = time(reps, () -> q.matmulTransposed(x, db).close());
          double dense = time(reps, () -> Nd4j.gemm(x, wf, false, true).close());
          double fusedB = time(reps, () -> q.matmul(dy, db).close());
          double denseB = time(reps, () -> Nd4j.gemm(dy, wf, false, false).close());
          System.out.printf("  n=%4d  x@deq(W)^T fused %7.1f ms vs float gemm %7.1f ms (x%.1f);"
              + "  dY@deq(W) fused %7.1f ms vs %7.1f ms (x%.1f)%n", n, fused * 1e3, dense * 1e3,
              fused / dense, fusedB * 1e3, denseB * 1e3, fusedB / denseB);
          x.close();
          dy.close();
        }
        wf.close();
      }
    }
  }

  private static double time(int reps, Runnable r) {
    double[] ts = new double[reps];
    for (int rep = -2; rep < reps; rep++) {
      long s = System.nanoTime();
      r.run();
      if (rep >= 0) {
        ts[rep] = (System.nanoTime() - s) / 1e9;
      }
    }
    return median(ts);
  }

  private static double median(double[] ts) {
    double[] c = ts.clone();
    Arrays.sort(c);
    return c[c.length / 2];
  }
}
