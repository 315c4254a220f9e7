package dev.loraj.core.quant;

import dev.loraj.core.adapter.AdapterRegistry;
import dev.loraj.core.adapter.AdapterSpec;
import dev.loraj.core.engine.MemoryMonitor;
import dev.loraj.core.lora.Fill;
import dev.loraj.core.lora.LoraConfig;
import dev.loraj.core.model.MlpModel;
import dev.loraj.core.model.PeftModel;
import dev.loraj.core.model.Targets;
import dev.loraj.core.train.Objective;
import dev.loraj.core.train.TrainConfig;
import dev.loraj.core.train.TrainResult;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * A QLoRA training step (NF4 base, double quantization, {@link QuantizedLinearOp}) against a
 * LoRA step on the float base: an MLP 1024 -> 4096 -> 1024 (two adapted sites), batch 64,
 * r = 8. Not a test (timing never is); run it by hand:
 *
 * <pre>
 *   export OPENBLAS_CORETYPE=SkylakeX
 *   mvn -q -B -o -pl lora-core test-compile
 *   java -cp lora-core/target/test-classes:lora-core/target/classes:$(cat cp.txt) \
 *       dev.loraj.core.quant.QLoraStepMain [lora|qlora|both] [steps] [d] [h]
 * </pre>
 *
 * Run {@code lora} and {@code qlora} in separate JVMs for the memory figures (off-heap bytes
 * of an earlier run are freed only when the GC gets to them).
 *
 * <p>Measured (2 shared cores, OPENBLAS_CORETYPE=SkylakeX, 30 steps, medians, fresh JVM each):
 * LoRA 72-91 ms, QLoRA 112-116 ms per step (dequantizing 8.4M weights twice per step in Java);
 * float weights 32.0 MiB -> 0 with 4.1 MiB of NF4 codes and scales; off-heap live bytes before
 * training 32.8 MiB -> 0.8 MiB. Peak RSS (~530-670 MiB) is dominated by the JVM and ND4J at
 * this size and is not a useful comparison. Under heavy load (load average 8 on 2 cores) both
 * were ~4x slower and within 15% of each other.
 *
 * ({@code cp.txt} from {@code mvn -pl lora-core dependency:build-classpath -Dmdep.outputFile=cp.txt}).
 */
public final class QLoraStepMain {
  public static void main(String[] args) {
    String mode = args.length > 0 ? args[0] : "both";
    int steps = args.length > 1 ? Integer.parseInt(args[1]) : 30;
    int d = args.length > 2 ? Integer.parseInt(args[2]) : 1024;
    int h = args.length > 3 ? Integer.parseInt(args[3]) : 4096;
    boolean[] runs = switch (mode) {
      case "lora" -> new boolean[] {false};
      case "qlora" -> new boolean[] {true};
      case "both" -> new boolean[] {false, true, false, true};
      default -> throw new IllegalArgumentException("mode = '" + mode + "': accepted lora, qlora, both");
    };
    INDArray x = Fill.normal(new long[] {64, d}, 1.0, new SplittableRandom(1));
    INDArray t = Fill.normal(new long[] {64, d}, 1.0, new SplittableRandom(2));
    for (boolean quantized : runs) {
      MlpModel base = MlpModel.random(List.of(d, h, d), MlpModel.Activation.RELU, false, 1);
      PeftModel pm = new PeftModel(base, AdapterRegistry.discover());
      if (quantized) {
        QuantizedBase.quantizeNf4(pm, Targets.allLinear());
      }
      pm.addAdapter("default", new AdapterSpec(LoraConfig.of(8, 16), Targets.allLinear()), 3);
      System.gc();
      long live = MemoryMonitor.offHeapBytes();
      TrainResult r = new dev.loraj.core.train.Trainer(TrainConfig.of(steps, 1e-3, 5))
          .train(pm, Objective.meanSquaredError(), (s, m) -> Map.of("x", x, "targets", t));
      System.out.printf("%-5s d=%d h=%d: median step %.1f ms (steps %d, final loss %.4f); "
              + "float weights %.1f MiB, quantized %.1f MiB; off-heap live before training %.1f MiB,"
              + " after %.1f MiB; peak RSS %.0f MiB%n",
          quantized ? "QLoRA" : "LoRA", d, h, r.medianStepMillis(), steps, r.finalLoss(),
          QuantizedBase.denseBytes(base) / 1048576.0, QuantizedBase.quantizedBytes(base) / 1048576.0,
          live / 1048576.0, MemoryMonitor.offHeapBytes() / 1048576.0,
          MemoryMonitor.peakRssBytes() / 1048576.0);
    }
  }
}
