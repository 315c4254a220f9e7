package dev.loraj.bench.jmh;

import dev.loraj.core.lora.Fill;
import dev.loraj.core.quant.QuantFormat;
import dev.loraj.core.quant.QuantizedWeight;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
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
 * Question: how fast does a 4-bit frozen weight dequantize (codebook lookup times block absmax,
 * QLoRA arXiv 2305.14314 Sec. 3), NF4 against INT4, with and without double quantization? One
 * invocation dequantizes a whole [size, size] weight into a reused float buffer (what
 * {@code QuantizedLinearOp} does chunk by chunk); weights per second = size^2 / time.
 *
 * <p>How to run: {@code ./lora jmh DequantBenchmark} (or {@code -p size=4096}).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"-Xmx3g", "-Dorg.nd4j.log.initialization=false"})
public class DequantBenchmark {

  @Param({"1024"})
  public int size;

  @Param({"nf4", "int4"})
  public String format;

  @Param({"false", "true"})
  public boolean doubleQuant;

  private QuantizedWeight weight;
  private float[] out;

  @Setup(Level.Trial)
  public void setUp() {
    var w = Fill.normal(new long[] {size, size}, 0.02, new SplittableRandom(1));
    weight = QuantizedWeight.quantize(w, QuantFormat.parse(format), doubleQuant);
    out = new float[size * size];
  }

  @Benchmark
  public float dequantize() {
    weight.dequantizeRows(0, size, out);
    return out[out.length - 1];
  }
}
