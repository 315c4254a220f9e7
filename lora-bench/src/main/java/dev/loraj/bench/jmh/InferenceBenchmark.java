package dev.loraj.bench.jmh;

import dev.loraj.core.adapter.AdapterRegistry;
import dev.loraj.core.adapter.AdapterSpec;
import dev.loraj.core.lora.Fill;
import dev.loraj.core.lora.LoraAdapter;
import dev.loraj.core.lora.LoraConfig;
import dev.loraj.core.model.MlpModel;
import dev.loraj.core.model.PeftModel;
import dev.loraj.core.model.Targets;
import java.util.List;
import java.util.Map;
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
 * Question: what does an unmerged adapter cost at inference, against the merged model and the
 * base? Expected: merged = base; unmerged about 1 + 2r/d slower in FLOPs plus per-op overhead.
 *
 * <p>How to run: {@code java -jar lora-bench/target/lora.jar jmh InferenceBenchmark}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"-Xmx6g", "-Dorg.nd4j.log.initialization=false"})
public class InferenceBenchmark {

  @Param({"1024"})
  public int width;

  @Param({"base", "merged", "unmerged"})
  public String mode;

  private PeftModel model;
  private Map<String, INDArray> in;

  @Setup(Level.Trial)
  public void setUp() {
    MlpModel base = MlpModel.random(List.of(width, 4 * width, width), MlpModel.Activation.GELU, false, 1);
    model = new PeftModel(base, AdapterRegistry.discover());
    in = Map.of("x", Fill.normal(new long[] {64, width}, 1, new SplittableRandom(2)));
    if (!mode.equals("base")) {
      model.addAdapter("default", new AdapterSpec(LoraConfig.of(8, 16), Targets.allLinear()), 3);
      model.adapter("default").sites().values().forEach(a -> Fill.normal(((LoraAdapter) a).b(), 0, 0.01, new SplittableRandom(4)));
      if (mode.equals("merged")) {
        model.merge();
      }
    }
  }

  @Benchmark
  public double output() {
    return model.output(in).getDouble(0);
  }
}
