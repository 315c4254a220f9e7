package dev.loraj.variants;

import dev.loraj.core.adapter.AdapterConfig;
import dev.loraj.core.adapter.AdapterFactory;
import dev.loraj.core.adapter.AdapterRegistry;
import dev.loraj.core.adapter.AdapterSpec;
import dev.loraj.core.linalg.Svd;
import dev.loraj.core.lora.Fill;
import dev.loraj.core.lora.LoraConfig;
import dev.loraj.core.model.MlpModel;
import dev.loraj.core.model.PeftModel;
import dev.loraj.core.model.Targets;
import dev.loraj.core.train.Objective;
import dev.loraj.core.train.TrainConfig;
import dev.loraj.core.train.TrainResult;
import dev.loraj.core.train.Trainer;
import dev.loraj.variants.svd.MiloraConfig;
import dev.loraj.variants.svd.PissaConfig;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Evidence, not a test: (1) loss curves of LoRA vs PiSSA vs MiLoRA at equal rank and steps on
 * the synthetic low-rank recovery problem of {@code LowRankRecoveryTest} (d = 256, a rank-4
 * teacher delta, rank 4, 200 AdamW steps at 1e-2 with cosine decay and 10 warm-up steps, batch
 * 64, 3 seeds), with the papers' alphas (PiSSA/MiLoRA alpha = r, LoRA alpha = 2r as MiLoRA's
 * code) and with equal alphas; (2) trainable parameters, Adam state bytes and adapter buffer
 * bytes of every registered variant at rank 8 on an MLP [256, 256, 256] (both layers adapted).
 *
 * <p>Run (from the repository root, after {@code mvn -q -B -o -pl lora-variants -am test-compile};
 * this module's and lora-core's own classes first, so a stale lora-core in ~/.m2 is not used):
 * <pre>
 *   mvn -q -B -o -pl lora-variants dependency:build-classpath -Dmdep.outputFile=/tmp/cp-variants.txt
 *   CP=lora-variants/target/test-classes:lora-variants/target/classes:lora-core/target/classes:$(cat /tmp/cp-variants.txt)
 *   (. scripts/blas-env.sh; OMP_NUM_THREADS=1 java -cp $CP dev.loraj.variants.InitComparisonMain)
 * </pre>
 */
public final class InitComparisonMain {

  static final int D = 256;
  static final int RANK = 4;
  static final int STEPS = 200;
  static final int[] REPORT = {1, 10, 50, 100, 200};
  static final int SEEDS = 3;

  public static void main(String[] args) {
    AdapterRegistry registry = AdapterRegistry.discover();
    System.out.println("== low-rank recovery: d=" + D + ", teacher rank 4, adapter rank " + RANK + ", "
        + STEPS + " steps, lr 1e-2 cosine (warm-up 10), batch 64, MSE, mean (min..max) over " + SEEDS + " seeds");
    Map<String, AdapterConfig> runs = new LinkedHashMap<>();
    runs.put("lora   alpha=2r", LoraConfig.of(RANK, 2 * RANK));
    runs.put("pissa  alpha=r", PissaConfig.defaults().withRankAndAlpha(RANK, RANK));
    runs.put("milora alpha=r", MiloraConfig.defaults().withRankAndAlpha(RANK, RANK));
    runs.put("lora   alpha=r", LoraConfig.of(RANK, RANK));
    runs.put("pissa  alpha=2r", PissaConfig.defaults().withRankAndAlpha(RANK, 2 * RANK));
    runs.put("milora alpha=2r", MiloraConfig.defaults().withRankAndAlpha(RANK, 2 * RANK));
    StringBuilder header = new StringBuilder(String.format("%-16s", "run"));
    for (int s : REPORT) {
      header.append(String.format(" | %-26s", "loss@" + s));
    }
    System.out.println(header);
    for (Map.Entry<String, AdapterConfig> run : runs.entrySet()) {
      double[][] loss = new double[REPORT.length][SEEDS];
      for (int seed = 0; seed < SEEDS; seed++) {
        TrainResult r = recovery(registry, run.getValue(), seed);
        for (int i = 0; i < REPORT.length; i++) {
          loss[i][seed] = r.losses().get(REPORT[i] - 1);
        }
      }
      StringBuilder line = new StringBuilder(String.format("%-16s", run.getKey()));
      for (double[] l : loss) {
        line.append(String.format(" | %.3e (%.2e..%.2e)", mean(l), min(l), max(l)));
      }
      System.out.println(line);
    }
    System.out.println("(loss@k is the loss of step k's batch before step k's update)");
    // PiSSA's base is W0 - top_r(W0): a rank-r adapter must hold top_r(W0) + dW* (rank 2r here)
    // and can reach at best its Eckart-Young residual; E||x E^T||^2 / out = ||E||_F^2 / out for x ~ N(0, I)
    double[] floor = new double[SEEDS];
    for (int seed = 0; seed < SEEDS; seed++) {
      INDArray w0 = MlpModel.random(List.of(D, D), MlpModel.Activation.NONE, false, 1 + seed).weights().get("layers.0.weight");
      INDArray target = Svd.exact(w0).top(RANK).reconstruct().addi(teacherDelta(seed)); // [out, in]
      float[] sv = Svd.exact(target).s().toFloatVector();
      double tail = 0;
      for (int i = RANK; i < sv.length; i++) {
        tail += (double) sv[i] * sv[i];
      }
      floor[seed] = tail / D;
    }
    System.out.printf("closed-form floor of rank-%d PiSSA on this task (||top_r(W0) + dW* - best rank-r||_F^2 / out):"
        + " %.3e (%.2e..%.2e)%n", RANK, mean(floor), min(floor), max(floor));

    System.out.println();
    System.out.println("== every registered variant, rank 8 (alpha 8, defaults otherwise), MLP [256, 256, 256],"
        + " both layers adapted, 2 training steps");
    System.out.printf("%-12s | %12s | %14s | %14s | %s%n", "variant", "trainable", "adam state B", "buffers B", "closed form");
    for (AdapterFactory<?> f : registry.factories()) {
      System.out.println(footprint(registry, f));
    }
  }

  static TrainResult recovery(AdapterRegistry registry, AdapterConfig config, int seed) {
    MlpModel base = MlpModel.random(List.of(D, D), MlpModel.Activation.NONE, false, 1 + seed);
    base.weights().get("layers.0.bias").assign(0);
    INDArray delta = teacherDelta(seed);
    INDArray teacherWeightT = base.weights().get("layers.0.weight").add(delta).transpose().dup(); // [in, out]
    PeftModel student = new PeftModel(base, registry);
    student.addAdapter("default", new AdapterSpec(config, Targets.of("layers.0")), 3 + seed);
    TrainConfig cfg = TrainConfig.of(STEPS, 1e-2, 5 + seed).withSchedule(TrainConfig.Schedule.COSINE, 10);
    return new Trainer(cfg).train(student, Objective.meanSquaredError(), (step, micro) -> {
      INDArray x = Fill.normal(new long[] {64, D}, 1.0, new SplittableRandom(step * 7919L + 1_000_003L * seed));
      return Map.of("x", x, "targets", x.mmul(teacherWeightT)); // bias is zero
    });
  }

  /** dW* = 0.5 u v, u [D, 4] ~ N(0, 1/D), v [4, D] ~ N(0, 1): rank 4, as LowRankRecoveryTest. */
  static INDArray teacherDelta(int seed) {
    SplittableRandom rnd = new SplittableRandom(9 + seed);
    INDArray u = Fill.normal(new long[] {D, 4}, 1.0 / Math.sqrt(D), rnd);
    INDArray v = Fill.normal(new long[] {4, D}, 1.0, rnd);
    return u.mmul(v).muli(0.5); // [D, 4] x [4, D]
  }

  static String footprint(AdapterRegistry registry, AdapterFactory<?> f) {
    try {
      MlpModel base = MlpModel.random(List.of(D, D, D), MlpModel.Activation.GELU, false, 7);
      PeftModel pm = new PeftModel(base, registry);
      List<Map<String, INDArray>> calib = new ArrayList<>();
      for (long s = 0; s < 2; s++) {
        calib.add(Map.of("x", Fill.normal(new long[] {64, D}, 1.0, new SplittableRandom(900 + s))));
      }
      pm.calibrate(calib); // CorDA reads the input covariance; nobody else does
      AdapterConfig cfg = f.defaultConfig().withRankAndAlpha(8, 8);
      pm.addAdapter("default", new AdapterSpec(cfg, Targets.allLinear()), 11);
      long closed = 0;
      for (var site : Targets.allLinear().resolve(base.linearSites())) {
        closed += f.trainableParametersUnchecked(cfg, site);
      }
      long buffers = pm.adapter("default").sites().values().stream()
          .flatMap(a -> a.buffers().values().stream()).mapToLong(a -> a.length() * a.dataType().width()).sum();
      TrainResult r = new Trainer(TrainConfig.of(2, 1e-3, 1)).train(pm, Objective.meanSquaredError(), (s, m) -> {
        SplittableRandom rnd = new SplittableRandom(s);
        return Map.of("x", Fill.normal(new long[] {32, D}, 1.0, rnd), "targets", Fill.normal(new long[] {32, D}, 1.0, rnd));
      });
      return String.format("%-12s | %12d | %14d | %14d | %d", f.name(), r.trainableParameters(),
          r.optimizerStateBytes(), buffers, closed);
    } catch (RuntimeException e) {
      return String.format("%-12s | failed: %s", f.name(), e);
    }
  }

  static double mean(double[] v) {
    double s = 0;
    for (double x : v) {
      s += x;
    }
    return s / v.length;
  }

  static double min(double[] v) {
    double m = Double.POSITIVE_INFINITY;
    for (double x : v) {
      m = Math.min(m, x);
    }
    return m;
  }

  static double max(double[] v) {
    double m = Double.NEGATIVE_INFINITY;
    for (double x : v) {
      m = Math.max(m, x);
    }
    return m;
  }
}
