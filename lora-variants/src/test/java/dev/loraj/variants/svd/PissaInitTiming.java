package dev.loraj.variants.svd;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Measurement, not a test: the whole PiSSA init of one n x n weight (SVD, factors, residual)
 * with exact SVD vs fast PiSSA (randomized SVD, niter 4, no oversampling, as PEFT's
 * {@code pissa_niter_4}), and how far the randomized top-r term is from the exact one. Weights:
 * a power-law spectrum {@code s_i = (i + 1)^-1/2} (a rough stand-in for a trained weight) and a
 * Gaussian matrix (flat spectrum, the hard case for randomized SVD).
 *
 * <pre>
 *   mvn -q -B -o -pl lora-variants dependency:build-classpath -Dmdep.outputFile=/tmp/cp-variants.txt
 *   CP=lora-variants/target/test-classes:lora-variants/target/classes:lora-core/target/classes:$(cat /tmp/cp-variants.txt)
 *   (. scripts/blas-env.sh; java -Xmx8g -cp $CP dev.loraj.variants.svd.PissaInitTiming 1024 4096)
 * </pre>
 *
 * Printed: {@code termErr} = ||T~ - T||_F / ||T||_F with T = s B A of the exact init and T~ of
 * the fast one; {@code optimality} = ||W - T~||_F / ||W - T||_F (1 = as good as exact PiSSA:
 * the fraction of W left in the residual); {@code sErr} = max relative error of the r kept
 * singular values (from the factors: diag(A A^T) s).
 */
public final class PissaInitTiming {
  private PissaInitTiming() {}

  public static void main(String[] args) {
    int rank = 8;
    SvdInitTest.run(SvdInit.principal(), TestSite.gaussian(64, 64, 0), 1.0); // warm-up natives
    for (String arg : args) {
      int n = Integer.parseInt(arg);
      float[] spectrum = new float[n];
      for (int i = 0; i < n; i++) {
        spectrum[i] = (float) (1 / Math.sqrt(i + 1));
      }
      run("power-law", TestSite.withSpectrum(n, n, spectrum, 1), rank);
      run("gaussian", TestSite.gaussian(n, n, 2).divi(Math.sqrt(n)), rank);
    }
  }

  private static void run(String kind, INDArray w, int rank) {
    long t0 = System.nanoTime();
    INDArray[] exact = init(new SvdInit(SvdInit.Slice.PRINCIPAL, SvdMethod.EXACT, 0), w, rank);
    long t1 = System.nanoTime();
    INDArray[] fast = init(new SvdInit(SvdInit.Slice.PRINCIPAL, SvdMethod.RANDOMIZED, 4), w, rank);
    long t2 = System.nanoTime();
    INDArray te = exact[1].mmul(exact[0]); // [n, r] x [r, n]
    INDArray tf = fast[1].mmul(fast[0]);
    double termErr = tf.sub(te).norm2Number().doubleValue() / te.norm2Number().doubleValue();
    double optimality = fast[2].norm2Number().doubleValue() / exact[2].norm2Number().doubleValue();
    INDArray se = exact[0].mmul(exact[0].transpose()); // diag = S_r / s, s = 1
    INDArray sf = fast[0].mmul(fast[0].transpose());
    double sErr = 0;
    for (int i = 0; i < rank; i++) {
      sErr = Math.max(sErr, Math.abs(sf.getDouble(i, i) - se.getDouble(i, i)) / se.getDouble(i, i));
    }
    System.out.printf("n=%d %-9s r=%d  exact %8.1f ms  randomized(niter 4) %7.1f ms  x%5.1f  termErr %.2e  optimality %.6f  sErr %.2e%n",
        w.rows(), kind, rank, (t1 - t0) / 1e6, (t2 - t1) / 1e6, (double) (t1 - t0) / (t2 - t1), termErr, optimality, sErr);
  }

  /** The init on a site over {@code w}: {a, b, residual}. */
  private static INDArray[] init(SvdInit init, INDArray w, int rank) {
    TestSite site = new TestSite(w, null);
    INDArray a = Nd4j.create(DataType.FLOAT, rank, w.size(1));
    INDArray b = Nd4j.create(DataType.FLOAT, w.size(0), rank);
    init.initialize(a, b, 1.0, site);
    return new INDArray[] {a, b, site.rewritten};
  }
}
