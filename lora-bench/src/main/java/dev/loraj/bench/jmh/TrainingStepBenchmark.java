package dev.loraj.bench.jmh;

import dev.loraj.core.adapter.AdapterRegistry;
import dev.loraj.core.adapter.AdapterSpec;
import dev.loraj.core.lora.Fill;
import dev.loraj.core.lora.LoraConfig;
import dev.loraj.core.model.MlpModel;
import dev.loraj.core.model.PeftModel;
import dev.loraj.core.model.Targets;
import dev.loraj.core.train.Batches;
import dev.loraj.core.train.Objective;
import dev.loraj.core.train.TrainConfig;
import dev.loraj.core.train.Trainer;
import java.util.LinkedHashSet;
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
 * Question: how long is a training step of LoRA (r = 8, all linear layers) against a full
 * fine-tuning step and a forward pass, on an MLP [width, 4 width, width], batch 64? The compute
 * bound says a LoRA step needs about 2/3 of a full step (no weight gradients for W).
 *
 * <p>How to run: {@code java -jar lora-bench/target/lora.jar jmh TrainingStepBenchmark} (or
 * {@code -p width=1024,2048}); smoke: {@code -wi 1 -i 2 -f 1}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"-Xmx6g", "-Dorg.nd4j.log.initialization=false"})
public class TrainingStepBenchmark {

  @Param({"1024"})
  public int width;

  @Param({"lora", "full", "forward"})
  public String mode;

  @Param({"8"})
  public int rank;

  private Trainer.Session session;
  private PeftModel model;
  private Batches batches;
  private Map<String, INDArray> batch;
  private long step;

  @Setup(Level.Trial)
  public void setUp() {
    MlpModel base = MlpModel.random(List.of(width, 4 * width, width), MlpModel.Activation.GELU, false, 1);
    model = new PeftModel(base, AdapterRegistry.discover());
    SplittableRandom rnd = new SplittableRandom(2);
    batch = Map.of("x", Fill.normal(new long[] {64, width}, 1, rnd), "targets", Fill.normal(new long[] {64, width}, 1, rnd));
    batches = (s, m) -> batch;
    switch (mode) {
      case "lora" -> model.addAdapter("default", new AdapterSpec(LoraConfig.of(rank, 2 * rank), Targets.allLinear()), 3);
      case "full" -> model.addTrainableBase(new LinkedHashSet<>(base.weights().keySet()));
      case "forward" -> { }
      default -> throw new IllegalArgumentException("mode " + mode);
    }
    if (!mode.equals("forward")) {
      session = new Trainer(TrainConfig.of(1_000_000, 1e-4, 1)).start(model, Objective.meanSquaredError());
    }
  }

  @Benchmark
  public double step() {
    if (session == null) {
      return model.output(Map.of("x", batch.get("x"))).getDouble(0);
    }
    return session.step(++step, batches);
  }
}
