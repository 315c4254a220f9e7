package dev.loraj.variants.dora;

import static dev.loraj.variants.Fixtures.maxAbsDiff;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import dev.loraj.core.lora.Fill;
import dev.loraj.core.model.MlpModel;
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
import org.nd4j.linalg.factory.Nd4j;

/** DoRA's own equations (arXiv 2402.09353, eq. 5 and section 4.3). */
class DoraTest {

  // A 3x2 example worked by hand: W [out=3, in=2], rank 1, alpha 2 -> s = 2.
  static final float[][] W = {{1, 0}, {0, 2}, {3, 4}};
  static final float[] BIAS = {0.5f, -1, 0};
  static final float[][] X = {{1, -1}, {2, 0.5f}};
  static final double SQRT13 = Math.sqrt(13);
  static final double SQRT5 = Math.sqrt(5);

  /**
   * A = [[1, 1]], B = [1, 0, -1]^T: W + sBA = [[3, 2], [0, 2], [1, 2]], row norms
   * n = [sqrt 13, 2, sqrt 5]; m = [2 sqrt 13, 1, sqrt 5] gives m/n = [2, 0.5, 1].
   */
  static PeftModel handExample() {
    PeftModel pm = Fixtures.peft(Fixtures.oneLayer(W, BIAS), DoraConfig.of(1, 2), 3);
    Dora.DoraAdapter ad = Fixtures.site(pm, "default");
    ad.a().assign(Nd4j.createFromArray(new float[][] {{1, 1}}));
    ad.b().assign(Nd4j.createFromArray(new float[][] {{1}, {0}, {-1}}));
    ad.magnitude().assign(Nd4j.createFromArray(new float[] {(float) (2 * SQRT13), 1, (float) SQRT5}));
    return pm;
  }

  @Test
  void magnitudeStartsAtRowNormsOfWAndOutputIsUnchanged() {
    PeftModel pm = Fixtures.peft(Fixtures.oneLayer(W, BIAS), DoraConfig.of(1, 2), 3);
    Dora.DoraAdapter ad = Fixtures.site(pm, "default");
    // B = 0 so m = ||W||_c = [1, 2, 5]
    assertThat(ad.magnitude().toDoubleVector()).containsExactly(new double[] {1, 2, 5}, within(1e-6));
    INDArray base = new PeftModel(pm.base(), Fixtures.REGISTRY).output(Fixtures.x(X));
    assertThat(maxAbsDiff(pm.output(Fixtures.x(X)), base)).isLessThanOrEqualTo(1e-6);
  }

  @Test
  void forwardMatchesHandComputation() {
    // y = b + (m/n) (W + sBA) x: x1 = [1, -1] -> (W+sBA)x = [1, -2, -1] -> [2, -1, -1] + b;
    // x2 = [2, 0.5] -> [7, 1, 3] -> [14, 0.5, 3] + b
    INDArray y = handExample().output(Fixtures.x(X));
    INDArray expected = Nd4j.createFromArray(new float[][] {{2.5f, -2, -1}, {14.5f, -0.5f, 3}});
    assertThat(maxAbsDiff(y, expected)).isLessThanOrEqualTo(1e-5);
  }

  @Test
  void gradientTreatsTheNormAsAConstant() {
    // loss = sum(y). With n detached (section 4.3):
    // dL/dB[o] = (m/n)_o s sum_i (A x_i) = [2, 0.5, 1] * 2 * 2.5
    // dL/dA    = s sum_o (m/n)_o B[o] * sum_i x_i = 2 * (2 - 1) * [3, -0.5]
    // dL/dm    = (1/n) sum_i (W + sBA) x_i = [8, -1, 2] / n
    Map<String, INDArray> g = Fixtures.gradientsOfSum(handExample(), Fixtures.x(X));
    assertThat(g.get("lora_B.weight").toDoubleVector()).containsExactly(new double[] {10, 2.5, 5}, within(1e-5));
    assertThat(g.get("lora_A.weight").toDoubleVector()).containsExactly(new double[] {6, -1}, within(1e-5));
    assertThat(g.get(Dora.MAGNITUDE).toDoubleVector())
        .containsExactly(new double[] {8 / SQRT13, -0.5, 2 / SQRT5}, within(1e-5));
  }

  @Test
  void magnitudeGetsAGradientFromTheFirstStep() {
    MlpModel base = Fixtures.oneLayer(6, 4, 1);
    PeftModel pm = Fixtures.peft(base, DoraConfig.of(2, 4), 9);
    Dora.DoraAdapter ad = Fixtures.site(pm, "default");
    INDArray m0 = ad.magnitude().dup();
    INDArray a0 = ad.a().dup();
    Map<String, INDArray> grads = Fixtures.gradientsOfSum(pm, Fixtures.randomX(5, 6, 2));
    assertThat(grads.get(Dora.MAGNITUDE).norm2Number().doubleValue()).isGreaterThan(1e-3);
    new Trainer(TrainConfig.of(1, 1e-2, 3)).train(pm, Objective.meanSquaredError(), (s, micro) -> {
      Map<String, INDArray> b = new LinkedHashMap<>(Fixtures.randomX(5, 6, 4));
      b.put("targets", Fill.normal(new long[] {5, 4}, 1.0, new SplittableRandom(5)));
      return b;
    });
    assertThat(maxAbsDiff(ad.magnitude(), m0)).isGreaterThan(1e-3);
    // B = 0 at the first step, so A gets no gradient yet (as in LoRA)
    assertThat(maxAbsDiff(ad.a(), a0)).isEqualTo(0.0);
  }

  @Test
  void mergeIsScaledSumAndUnmergeRestoresW() {
    PeftModel pm = handExample();
    INDArray w = pm.torchLayout(pm.base().linearSites().get(0)).dup();
    INDArray before = pm.output(Fixtures.x(X));
    pm.merge();
    // W' = (m/n)(W + sBA) = [[6, 4], [0, 1], [1, 2]]
    INDArray merged = pm.torchLayout(pm.base().linearSites().get(0));
    assertThat(maxAbsDiff(merged, Nd4j.createFromArray(new float[][] {{6, 4}, {0, 1}, {1, 2}}))).isLessThanOrEqualTo(1e-5);
    assertThat(maxAbsDiff(pm.output(Fixtures.x(X)), before)).isLessThanOrEqualTo(1e-5);
    pm.unmerge();
    assertThat(maxAbsDiff(pm.torchLayout(pm.base().linearSites().get(0)), w)).isLessThanOrEqualTo(1e-6);
  }

  @Test
  void unmergeWithoutMergeIsAnError() {
    Dora.DoraAdapter ad = Fixtures.site(handExample(), "default");
    assertThatThrownBy(() -> ad.unmerge(Nd4j.createFromArray(W)))
        .isInstanceOf(IllegalStateException.class).hasMessageContaining("layers.0");
  }

  @Test
  void fanInFanOutBaseGivesTheSameModelAsTorchLayout() {
    MlpModel torch = Fixtures.oneLayer(5, 3, 4);
    Fixtures.Conv1d conv = Fixtures.Conv1d.ofTorchLayout(
        torch.weights().get("layers.0.weight"), torch.weights().get("layers.0.bias"));
    PeftModel a = Fixtures.peft(torch, DoraConfig.of(2, 4), 6);
    PeftModel b = Fixtures.peft(conv, DoraConfig.of(2, 4), 6);
    Dora.DoraAdapter da = Fixtures.site(a, "default");
    Dora.DoraAdapter db = Fixtures.site(b, "default");
    assertThat(maxAbsDiff(da.magnitude(), db.magnitude())).isLessThanOrEqualTo(1e-6);
    SplittableRandom rnd = new SplittableRandom(8);
    Fill.normal(da.b(), 0, 0.5, rnd);
    da.magnitude().muli(1.3);
    db.a().assign(da.a());
    db.b().assign(da.b());
    db.magnitude().assign(da.magnitude());
    Map<String, INDArray> x = Fixtures.randomX(4, 5, 9);
    INDArray ya = a.output(x);
    assertThat(maxAbsDiff(b.output(x), ya)).isLessThanOrEqualTo(1e-5);
    INDArray stored = conv.weights().get("c.weight").dup();
    b.merge();
    assertThat(maxAbsDiff(b.output(x), ya)).isLessThanOrEqualTo(1e-5);
    b.unmerge();
    assertThat(maxAbsDiff(conv.weights().get("c.weight"), stored)).isLessThanOrEqualTo(1e-5);
  }

  @Test
  void parametersUsePeftKeys() {
    Dora.DoraAdapter ad = Fixtures.site(handExample(), "default");
    assertThat(ad.parameters().keySet()).containsExactly("lora_A.weight", "lora_B.weight", "lora_magnitude_vector");
    assertThat(ad.parameters().get(Dora.MAGNITUDE).shape()).containsExactly(3L);
  }

  @Test
  void configValidationNamesTheField() {
    assertThatThrownBy(() -> new DoraConfig(0, 8, 0, false, null, null)).hasMessageContaining("rank = 0");
    assertThatThrownBy(() -> DoraConfig.defaults().withDropout(1.5)).hasMessageContaining("dropout = 1.5");
  }
}
