package dev.loraj.variants.deltalora;

import dev.loraj.core.testing.ExactArrays;
import static dev.loraj.variants.Fixtures.maxAbsDiff;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import dev.loraj.core.adapter.StepContext;
import dev.loraj.core.lora.Fill;
import dev.loraj.core.model.MlpModel;
import dev.loraj.core.model.PeftModel;
import dev.loraj.core.train.Objective;
import dev.loraj.core.train.TrainConfig;
import dev.loraj.core.train.TrainResult;
import dev.loraj.core.train.Trainer;
import dev.loraj.variants.Fixtures;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/** Delta-LoRA's W(t+1) = W(t) + lambda (s B(t+1)A(t+1) - s B(t)A(t)) (arXiv 2309.02411, alg. 1). */
class DeltaLoraTest {

  static DeltaLora.Config config(double ratio, int start) {
    return DeltaLora.Config.defaults().withRankAndAlpha(2, 4).withUpdate(ratio, start); // s = 2
  }

  @Test
  void afterStepMovesWByLambdaTimesTheChangeOfSBA() {
    PeftModel pm = Fixtures.peft(Fixtures.oneLayer(3, 2, 1), config(3, 1), 2);
    DeltaLora.DeltaAdapter ad = Fixtures.site(pm, "default");
    ad.a().assign(Nd4j.createFromArray(new float[][] {{1, 0, 0}, {0, 1, 0}}));
    ad.b().assign(Nd4j.createFromArray(new float[][] {{1, 0}, {0, 0}}));
    ad.afterStep(new StepContext(1, 10, Map.of())); // t = 1 <= K: W stays, B A is remembered
    assertThat(ad.weightDelta().amaxNumber().doubleValue()).isEqualTo(0.0);
    ad.b().assign(Nd4j.createFromArray(new float[][] {{1, 0}, {0, 1}}));
    ad.afterStep(new StepContext(2, 10, Map.of()));
    // s (B2 A - B1 A) = 2 * [[0, 0, 0], [0, 1, 0]], times lambda = 3
    INDArray expected = Nd4j.createFromArray(new float[][] {{0, 0, 0}, {0, 6, 0}});
    assertThat(maxAbsDiff(ad.weightDelta(), expected)).isEqualTo(0.0);
    // the model uses W + D + s B A
    INDArray w = pm.torchLayout(pm.base().linearSites().get(0));
    assertThat(maxAbsDiff(ad.deltaWeight(), expected.add(ad.b().mmul(ad.a()).mul(2)))).isLessThanOrEqualTo(1e-6);
    ExactArrays.assertBitIdentical(w, pm.base().weights().get("layers.0.weight"), "base weight");
  }

  @Test
  void accumulatedUpdateTelescopesToLambdaTimesFinalSBA() {
    PeftModel pm = Fixtures.peft(Fixtures.oneLayer(6, 4, 1), config(2, 0), 2);
    DeltaLora.DeltaAdapter ad = Fixtures.site(pm, "default");
    INDArray w0 = pm.base().weights().get("layers.0.weight").dup();
    train(pm, 5);
    // B(0) = 0, so sum_t lambda (s B(t+1)A(t+1) - s B(t)A(t)) = lambda s B(5) A(5)
    INDArray sba = ad.b().mmul(ad.a()).mul(ad.scaling());
    assertThat(sba.amaxNumber().doubleValue()).isGreaterThan(1e-3);
    assertThat(maxAbsDiff(ad.weightDelta(), sba.mul(2))).isLessThanOrEqualTo(1e-6);
    ExactArrays.assertBitIdentical(pm.base().weights().get("layers.0.weight"), w0, "base weight");
  }

  /**
   * The training graph must see D as it grows: the loss reported at step 2 equals the loss of
   * a fresh graph on the state left by one step.
   */
  @Test
  void trainingGraphSeesTheUpdatedWeightDelta() {
    MlpModel base = Fixtures.oneLayer(6, 4, 1);
    PeftModel one = Fixtures.peft(base, config(4, 0), 2);
    train(one, 1);
    DeltaLora.DeltaAdapter ad = Fixtures.site(one, "default");
    assertThat(ad.weightDelta().amaxNumber().doubleValue()).isGreaterThan(1e-4);
    Map<String, INDArray> b2 = batch(2);
    INDArray d = one.output(Map.of("x", b2.get("x"))).sub(b2.get("targets"));
    double expected = d.mul(d).meanNumber().doubleValue();

    PeftModel two = Fixtures.peft(base, config(4, 0), 2);
    TrainResult r = train(two, 2);
    assertThat(r.losses().get(1)).isCloseTo(expected, within(1e-6 * Math.max(1, expected)));
  }

  @Test
  void configValidationNamesTheField() {
    assertThatThrownBy(() -> config(-1, 0)).hasMessageContaining("update_ratio = -1.0");
    assertThatThrownBy(() -> config(2, -3)).hasMessageContaining("update_start_steps = -3");
  }

  private static Map<String, INDArray> batch(long s) {
    Map<String, INDArray> batch = new LinkedHashMap<>(Fixtures.randomX(8, 6, 10 + s));
    batch.put("targets", Fill.normal(new long[] {8, 4}, 1.0, new SplittableRandom(100 + s)));
    return batch;
  }

  private static TrainResult train(PeftModel pm, int steps) {
    return new Trainer(TrainConfig.of(steps, 5e-2, 3))
        .train(pm, Objective.meanSquaredError(), (s, micro) -> batch(s));
  }
}
