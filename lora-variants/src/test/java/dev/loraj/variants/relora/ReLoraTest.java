package dev.loraj.variants.relora;

import dev.loraj.core.testing.ExactArrays;
import static dev.loraj.variants.Fixtures.maxAbsDiff;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.loraj.core.linalg.Svd;
import dev.loraj.core.lora.Fill;
import dev.loraj.core.lora.LoraAdapter;
import dev.loraj.core.model.PeftModel;
import dev.loraj.core.train.Objective;
import dev.loraj.core.train.TrainConfig;
import dev.loraj.core.train.Trainer;
import dev.loraj.variants.Fixtures;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.ndarray.INDArray;

/** ReLoRA's merge-and-restart, optimizer reset and jagged schedule (arXiv 2307.05695, Sec. 3). */
class ReLoraTest {

  static final String VAR_A = "default/layers.0/" + LoraAdapter.A;
  static final String VAR_B = "default/layers.0/" + LoraAdapter.B;

  static ReLora.Config config(int resetEvery, int rewarm, ReLora.OptimizerReset reset, double prune) {
    return ReLora.Config.defaults().withRankAndAlpha(2, 4).withRestarts(resetEvery, rewarm)
        .withOptimizerReset(reset, prune); // s = 2
  }

  static Map<String, INDArray> batch(long s) {
    Map<String, INDArray> batch = new LinkedHashMap<>(Fixtures.randomX(8, 6, 10 + s));
    batch.put("targets", Fill.normal(new long[] {8, 4}, 1.0, new SplittableRandom(100 + s)));
    return batch;
  }

  static Trainer.Session session(PeftModel pm, int steps) {
    return new Trainer(TrainConfig.of(steps, 5e-2, 3)).start(pm, Objective.meanSquaredError());
  }

  @Test
  void mergeAndRestartKeepsTheFunctionAndRestartsTheFactors() {
    PeftModel pm = Fixtures.peft(Fixtures.oneLayer(6, 4, 1), config(200, 50, ReLora.OptimizerReset.RESET, 0), 2);
    ReLora.ReLoraAdapter ad = Fixtures.site(pm, "default");
    Trainer.Session s = session(pm, 3);
    for (long step = 1; step <= 3; step++) {
      s.step(step, (st, m) -> batch(st));
    }
    Map<String, INDArray> in = Fixtures.randomX(5, 6, 77);
    INDArray before = pm.output(in);
    INDArray sba = ad.b().mmul(ad.a()).muli(ad.scaling()); // [4, 2] x [2, 6]
    INDArray aBefore = ad.a().dup();
    INDArray w0 = pm.base().weights().get("layers.0.weight").dup();
    assertThat(sba.amaxNumber().doubleValue()).isGreaterThan(1e-3);

    ad.mergeAndRestart();

    assertThat(maxAbsDiff(pm.output(in), before)).as("output across the restart").isLessThanOrEqualTo(1e-5);
    assertThat(maxAbsDiff(ad.mergedDelta(), sba)).isLessThanOrEqualTo(1e-7);
    assertThat(ad.b().amaxNumber().doubleValue()).as("B after restart").isEqualTo(0.0);
    assertThat(maxAbsDiff(ad.a(), aBefore)).as("A redrawn").isGreaterThan(1e-3);
    assertThat(ad.a().amaxNumber().doubleValue()).as("kaiming bound 1/sqrt(in)").isLessThanOrEqualTo(1 / Math.sqrt(6));
    assertThat(ad.restarts()).isEqualTo(1);
    ExactArrays.assertBitIdentical(pm.base().weights().get("layers.0.weight"), w0, "base untouched");
  }

  @Test
  void trainerRestartsAtTheResetStepAndZeroesTheAdamStateOfAAndB() {
    PeftModel pm = Fixtures.peft(Fixtures.oneLayer(6, 4, 1), config(3, 1, ReLora.OptimizerReset.RESET, 0), 2);
    ReLora.ReLoraAdapter ad = Fixtures.site(pm, "default");
    Trainer.Session s = session(pm, 4);
    s.step(1, (st, m) -> batch(st));
    s.step(2, (st, m) -> batch(st));
    assertThat(s.optimizerState(VAR_A).amaxNumber().doubleValue()).isGreaterThan(0);
    assertThat(s.optimizerState(VAR_B).amaxNumber().doubleValue()).isGreaterThan(0);
    assertThat(ad.restarts()).isZero();
    s.step(3, (st, m) -> batch(st));
    assertThat(ad.restarts()).isEqualTo(1);
    assertThat(s.optimizerState(VAR_A).amaxNumber().doubleValue()).isEqualTo(0.0);
    assertThat(s.optimizerState(VAR_B).amaxNumber().doubleValue()).isEqualTo(0.0);
    assertThat(ad.b().amaxNumber().doubleValue()).isEqualTo(0.0);
    assertThat(ad.mergedDelta().amaxNumber().doubleValue()).isGreaterThan(1e-4);
  }

  /**
   * Pruning keeps, in each moment tensor, exactly the largest-magnitude entries of the state the
   * same run would have had without the restart (the first cycle is identical in both runs).
   */
  @Test
  void pruneKeepsTheLargestMomentsOfEachTensor() {
    PeftModel pruned = Fixtures.peft(Fixtures.oneLayer(6, 4, 1), config(3, 1, ReLora.OptimizerReset.PRUNE, 0.75), 2);
    PeftModel plain = Fixtures.peft(Fixtures.oneLayer(6, 4, 1), config(200, 1, ReLora.OptimizerReset.PRUNE, 0.75), 2);
    Trainer.Session sp = session(pruned, 3);
    Trainer.Session sq = session(plain, 3);
    for (long step = 1; step <= 3; step++) {
      sp.step(step, (st, m) -> batch(st));
      sq.step(step, (st, m) -> batch(st));
    }
    for (String var : new String[] {VAR_A, VAR_B}) {
      float[] after = sp.optimizerState(var).toFloatVector();
      float[] full = sq.optimizerState(var).toFloatVector();
      int n = after.length / 2;
      for (int half = 0; half < 2; half++) {
        int keep = (int) Math.ceil(0.25 * n);
        float[] mags = new float[n];
        int kept = 0;
        for (int i = 0; i < n; i++) {
          mags[i] = Math.abs(full[half * n + i]);
          if (after[half * n + i] != 0) {
            kept++;
            assertThat(after[half * n + i]).as("%s kept entry %d unchanged", var, i).isEqualTo(full[half * n + i]);
          }
        }
        java.util.Arrays.sort(mags);
        float threshold = mags[n - keep];
        for (int i = 0; i < n; i++) {
          if (Math.abs(full[half * n + i]) > threshold) {
            assertThat(after[half * n + i]).as("%s large entry %d kept", var, i).isNotZero();
          }
        }
        assertThat(kept).as("%s moments %d kept", var, half).isEqualTo(keep);
      }
    }
  }

  @Test
  void jaggedScheduleRewarmsFromZeroAfterEachRestart() {
    // first cycle 1 (the trainer's warm-up applies), then p / rewarm for p = 0..rewarm-1
    double[] expected = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0.25, 0.5, 0.75, 1, 1, 1, 1, 1, 1, 0, 0.25};
    for (int step = 1; step <= expected.length; step++) {
      assertThat(ReLora.rewarmFactor(step, 10, 4)).as("step %d", step).isEqualTo(expected[step - 1]);
    }
    assertThat(ReLora.rewarmFactor(11, 10, 0)).isEqualTo(1.0);
    PeftModel pm = Fixtures.peft(Fixtures.oneLayer(6, 4, 1), config(10, 4, ReLora.OptimizerReset.RESET, 0), 2);
    ReLora.ReLoraAdapter ad = Fixtures.site(pm, "default");
    assertThat(ad.learningRateScale(12)).isEqualTo(0.25);
  }

  /** The trainer applies the factor: the step right after a restart has rate 0, so B stays 0. */
  @Test
  void trainerAppliesTheRewarmFactor() {
    PeftModel pm = Fixtures.peft(Fixtures.oneLayer(6, 4, 1), config(3, 2, ReLora.OptimizerReset.RESET, 0), 2);
    ReLora.ReLoraAdapter ad = Fixtures.site(pm, "default");
    Trainer.Session s = session(pm, 5);
    for (long step = 1; step <= 3; step++) { // restart after step 3
      s.step(step, (st, m) -> batch(st));
    }
    INDArray a = ad.a().dup();
    s.step(4, (st, m) -> batch(st)); // factor 0
    assertThat(ad.b().amaxNumber().doubleValue()).isEqualTo(0.0);
    assertThat(maxAbsDiff(ad.a(), a)).isEqualTo(0.0);
    assertThat(s.optimizerState(VAR_B).amaxNumber().doubleValue()).as("moments still accumulate").isGreaterThan(0);
    s.step(5, (st, m) -> batch(st)); // factor 0.5
    assertThat(ad.b().amaxNumber().doubleValue()).isGreaterThan(0.0);
  }

  /** The point of the method: the sum of restarted rank-r updates has rank above r. */
  @Test
  void mergedUpdatesExceedTheRank() {
    PeftModel pm = Fixtures.peft(Fixtures.oneLayer(6, 4, 1),
        ReLora.Config.defaults().withRankAndAlpha(1, 1).withRestarts(2, 0), 2);
    ReLora.ReLoraAdapter ad = Fixtures.site(pm, "default");
    Trainer.Session s = session(pm, 6);
    for (long step = 1; step <= 6; step++) {
      s.step(step, (st, m) -> batch(st));
    }
    assertThat(ad.restarts()).isEqualTo(3);
    float[] sv = Svd.exact(ad.mergedDelta()).s().toFloatVector();
    long numericalRank = java.util.stream.IntStream.range(0, sv.length).filter(i -> sv[i] > 1e-4 * sv[0]).count();
    assertThat(numericalRank).isGreaterThan(1);
  }

  @Test
  void configValidationNamesTheField() {
    assertThatThrownBy(() -> config(0, 0, ReLora.OptimizerReset.RESET, 0)).hasMessageContaining("reset_every = 0");
    assertThatThrownBy(() -> config(10, 11, ReLora.OptimizerReset.RESET, 0)).hasMessageContaining("rewarm_steps = 11");
    assertThatThrownBy(() -> config(10, 5, ReLora.OptimizerReset.PRUNE, 1.0)).hasMessageContaining("prune_ratio = 1.0");
    assertThatThrownBy(() -> ReLora.OptimizerReset.parse("zero")).hasMessageContaining("accepted reset, prune");
    assertThat(config(10, 5, ReLora.OptimizerReset.PRUNE, 0.999).keepFraction()).isCloseTo(0.001, org.assertj.core.data.Offset.offset(1e-12));
  }
}
