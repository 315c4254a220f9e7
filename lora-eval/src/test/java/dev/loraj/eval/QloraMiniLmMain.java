package dev.loraj.eval;

import dev.loraj.core.adapter.AdapterRegistry;
import dev.loraj.core.adapter.AdapterSpec;
import dev.loraj.core.lora.LoraConfig;
import dev.loraj.core.model.BaseModel;
import dev.loraj.core.model.LinearSite;
import dev.loraj.core.model.PeftModel;
import dev.loraj.core.model.Targets;
import dev.loraj.core.quant.QuantizedBase;
import dev.loraj.core.train.TrainConfig;
import dev.loraj.core.train.TrainResult;
import dev.loraj.core.train.Trainer;
import dev.loraj.eval.task.TextClassificationTask;
import java.util.List;
import java.util.Map;

/**
 * QLoRA on a real model (QLoRA arXiv 2305.14314): the embedded all-MiniLM-L6-v2's 36 encoder
 * linear weights quantized to NF4 with block 64 and double quantization by
 * {@link QuantizedBase#quantizeNf4}, then LoRA (r = 8, alpha = 16, targets query and value,
 * {@code classifier} trained as modules_to_save) against the same LoRA on the float base, on
 * {@code sotu-era} (800 train / 300 test examples, max length 32): 40 steps, batch 16, lr 3e-3,
 * constant schedule, seed 1. Prints the base-weight bytes before and after quantization (about
 * 4.13 / 32 of the float32 bytes for the quantized matrices) and the test accuracy of both.
 * Not a test (a few minutes); run it by hand:
 *
 * <pre>
 *   mvn -q -B -o -pl lora-eval -am test-compile
 *   java -cp lora-eval/target/test-classes:lora-eval/target/classes:... dev.loraj.eval.QloraMiniLmMain
 * </pre>
 *
 * <p>Measured once (2 shared cores): the 36 matrices 42,467,328 float32 bytes -> 5,477,040 bytes
 * NF4+DQ (0.1290 = 4.127/32); all base weights 90.3 MB -> 47.8 MB float + 5.5 MB quantized
 * (0.590; the word embeddings dominate what stays float). Accuracy LoRA 0.290 -> 0.690, QLoRA
 * 0.303 -> 0.700 (300 test examples, one seed: the difference is within noise). Median step
 * LoRA 874 ms, QLoRA 747 ms, but QLoRA's 40 steps took 347 s against LoRA's 56 s (a few very
 * slow steps; not investigated).
 */
public final class QloraMiniLmMain {
  static final int STEPS = 40;
  static final int BATCH = 16;
  static final double LR = 3e-3;
  static final long SEED = 1;

  private QloraMiniLmMain() {}

  public static void main(String[] args) {
    TextClassificationTask task = new TextClassificationTask("sotu-era", 32, 800, 300, 0);
    AdapterSpec spec = new AdapterSpec(LoraConfig.of(8, 16),
        Targets.of("query", "value").withModulesToSave("classifier"));
    for (boolean quantized : new boolean[] {false, true}) {
      BaseModel base = task.newBaseModel();
      PeftModel pm = new PeftModel(base, AdapterRegistry.discover());
      String name = quantized ? "QLoRA" : "LoRA";
      if (quantized) {
        long denseBefore = QuantizedBase.denseBytes(base);
        Targets encoder = Targets.regex("encoder\\..*");
        List<LinearSite> sites = encoder.resolve(base.linearSites());
        long floatBytesOfSites = sites.stream().mapToLong(s -> 4L * s.in() * s.out()).sum();
        List<String> done = QuantizedBase.quantizeNf4(pm, encoder);
        long denseAfter = QuantizedBase.denseBytes(base);
        long quant = QuantizedBase.quantizedBytes(base);
        System.out.printf("quantized %d encoder matrices (NF4, block 64, double quantization)%n", done.size());
        System.out.printf("  those matrices: float32 %,d bytes -> NF4+DQ %,d bytes = %.4f of float32"
                + " (%.3f bits/param; 4.127/32 = %.4f)%n",
            floatBytesOfSites, quant, (double) quant / floatBytesOfSites,
            32.0 * quant / floatBytesOfSites, 4.127 / 32);
        System.out.printf("  all base weights: %,d bytes float -> %,d bytes float + %,d bytes quantized"
                + " = %,d (%.3f of before; embeddings, biases, LayerNorms and the head stay float)%n",
            denseBefore, denseAfter, quant, denseAfter + quant, (double) (denseAfter + quant) / denseBefore);
      }
      pm.addAdapter("default", spec, SEED);
      Map<String, Double> before = task.evaluate(pm);
      long t0 = System.nanoTime();
      TrainResult r = new Trainer(TrainConfig.of(STEPS, LR, SEED)).train(pm, task.objective(),
          task.trainBatches(SEED, BATCH));
      double seconds = (System.nanoTime() - t0) / 1e9;
      Map<String, Double> after = task.evaluate(pm);
      System.out.printf("%-5s sotu-era: accuracy %.4f before training -> %.4f after %d steps"
              + " (final loss %.4f, median step %.0f ms, %.0f s training)%n",
          name, before.get("accuracy"), after.get("accuracy"), STEPS, r.finalLoss(),
          r.medianStepMillis(), seconds);
    }
  }
}
