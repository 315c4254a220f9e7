package dev.loraj.bench.jmh;

import dev.loraj.core.linalg.Svd;
import dev.loraj.core.lora.Fill;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Question: what does the SVD behind PiSSA/MiLoRA init (arXiv 2404.02948) cost per weight, exact
 * ({@code LAPACKE_sgesdd}, all min(m, n) triplets) against randomized (Halko et al. 2011, rank r,
 * {@code niter} subspace iterations: PEFT's fast PiSSA)? Expected: randomized wins by about
 * size / r for r << size.
 *
 * <p>How to run: {@code ./lora jmh SvdInitBenchmark} (or {@code -p size=2048}).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 3, time = 2)
@Fork(value = 1, jvmArgsAppend = {"-Xmx3g", "-Dorg.nd4j.log.initialization=false"})
public class SvdInitBenchmark {

  @Param({"1024"})
  public int size;

  @Param({"exact", "randomized"})
  public String method;

  @Param({"16"})
  public int rank;

  @Param({"4"})
  public int niter;

  private INDArray w;

  @Setup(Level.Trial)
  public void setUp() {
    w = Fill.normal(new long[] {size, size}, 0.02, new SplittableRandom(1));
  }

  @Benchmark
  public double svd() {
    return switch (method) {
      case "exact" -> Svd.exact(w).s().getDouble(0);
      case "randomized" -> Svd.randomized(w, rank, niter, 7).s().getDouble(0);
      default -> throw new IllegalArgumentException("method = " + method + "; accepted: exact, randomized");
    };
  }
}
