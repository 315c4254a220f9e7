package dev.loraj.bench.jmh;

import dev.loraj.bench.step.StepShapes;
import dev.loraj.core.adapter.AdapterRegistry;
import dev.loraj.core.adapter.AdapterSpec;
import dev.loraj.core.checkpoint.PeftAdapters;
import dev.loraj.core.lora.LoraConfig;
import dev.loraj.core.model.PeftModel;
import dev.loraj.core.model.Targets;
import dev.loraj.core.model.bert.BertModel;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
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
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Question: how long do saving and loading a PEFT adapter directory ({@code adapter_config.json}
 * + {@code adapter_model.safetensors}) take for LoRA on every linear layer of the benchmark BERT
 * (6 x 384, {@link StepShapes#bert()}; 36 sites, r (384 + out) parameters each)? Save writes to a
 * temporary directory (files replaced atomically); load attaches the adapter to a fresh
 * {@link PeftModel} over the same base.
 *
 * <p>How to run: {@code ./lora jmh AdapterIoBenchmark}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"-Xmx3g", "-Dorg.nd4j.log.initialization=false"})
public class AdapterIoBenchmark {

  @Param({"8", "64"})
  public int rank;

  private BertModel base;
  private AdapterRegistry registry;
  private PeftModel model;
  private Path root;
  private Path saved;
  private Path scratch;

  @Setup(Level.Trial)
  public void setUp() throws IOException {
    base = BertModel.random(StepShapes.bert(), BertModel.Pooling.CLS, 0, 1);
    registry = AdapterRegistry.discover();
    model = new PeftModel(base, registry);
    model.addAdapter("default", new AdapterSpec(LoraConfig.of(rank, 2.0 * rank), Targets.allLinear()), 2);
    root = Files.createTempDirectory("lora-adapter-io");
    saved = root.resolve("saved");
    scratch = root.resolve("scratch");
    PeftAdapters.save(model, "default", saved);
  }

  @Benchmark
  public Path save() throws IOException {
    PeftAdapters.save(model, "default", scratch);
    return scratch;
  }

  @Benchmark
  public PeftModel.NamedAdapter load() throws IOException {
    return PeftAdapters.load(new PeftModel(base, registry), saved, "default");
  }

  @TearDown(Level.Trial)
  public void tearDown() throws IOException {
    try (Stream<Path> files = Files.walk(root)) {
      for (Path p : files.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    }
  }
}
