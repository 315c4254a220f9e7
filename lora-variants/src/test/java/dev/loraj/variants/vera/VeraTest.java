package dev.loraj.variants.vera;

import dev.loraj.core.testing.ExactArrays;
import static dev.loraj.variants.Fixtures.maxAbsDiff;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import dev.loraj.core.adapter.AdapterSpec;
import dev.loraj.core.lora.Fill;
import dev.loraj.core.model.MlpModel;
import dev.loraj.core.model.PeftModel;
import dev.loraj.core.model.Targets;
import dev.loraj.core.train.Objective;
import dev.loraj.core.train.TrainConfig;
import dev.loraj.core.train.Trainer;
import dev.loraj.variants.Fixtures;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/** VeRA's equation h = W x + Lambda_b B Lambda_d A x (arXiv 2310.11454, section 3, eq. 2). */
class VeraTest {

  static Vera.Config config(int rank) {
    return Vera.Config.defaults().withRankAndAlpha(rank, 1);
  }

  @Test
  void projectionsAreSharedBySitesOfTheSameShapeAndFixedByTheKeyAlone() {
    MlpModel base = MlpModel.random(List.of(8, 8, 8, 5), MlpModel.Activation.RELU, false, 3);
    PeftModel pm = new PeftModel(base, Fixtures.REGISTRY);
    pm.addAdapter("x", new AdapterSpec(config(4), Targets.allLinear()), 1);
    pm.addAdapter("y", new AdapterSpec(config(4), Targets.allLinear()), 99); // other model seed
    pm.addAdapter("z", new AdapterSpec(config(4).withProjectionPrngKey(1), Targets.allLinear()), 1);
    Map<String, ?> sites = pm.adapter("x").sites();
    Vera.VeraAdapter l0 = (Vera.VeraAdapter) pm.adapter("x").sites().get("layers.0");
    Vera.VeraAdapter l1 = (Vera.VeraAdapter) pm.adapter("x").sites().get("layers.1");
    Vera.VeraAdapter l2 = (Vera.VeraAdapter) pm.adapter("x").sites().get("layers.2");
    assertThat(sites).hasSize(3);
    // layers.0 and layers.1 are both 8 -> 8: identical A and B
    ExactArrays.assertBitIdentical(l0.a(), l1.a(), "l0.a()");
    ExactArrays.assertBitIdentical(l0.b(), l1.b(), "l0.b()");
    // layers.2 is 8 -> 5: same input width, so the same A; a B of its own shape
    ExactArrays.assertBitIdentical(l2.a(), l0.a(), "l2.a()");
    assertThat(l2.b().shape()).containsExactly(5L, 4L);
    // the model seed does not matter, the projection key does
    Vera.VeraAdapter y0 = (Vera.VeraAdapter) pm.adapter("y").sites().get("layers.0");
    Vera.VeraAdapter z0 = (Vera.VeraAdapter) pm.adapter("z").sites().get("layers.0");
    ExactArrays.assertBitIdentical(y0.a(), l0.a(), "y0.a()");
    assertThat(z0.a().equals(l0.a())).isFalse();
    // Kaiming-uniform bounds: 1/sqrt(fan_in), fan_in = in for A, r for B
    assertThat(l0.a().amaxNumber().doubleValue()).isLessThanOrEqualTo(1 / Math.sqrt(8)).isGreaterThan(0.5 / Math.sqrt(8));
    assertThat(l0.b().amaxNumber().doubleValue()).isLessThanOrEqualTo(1 / Math.sqrt(4)).isGreaterThan(0.5 / Math.sqrt(4));
  }

  @Test
  void initialStateAndTrainableCount() {
    PeftModel pm = Fixtures.peft(Fixtures.oneLayer(6, 5, 1), config(4), 2);
    Vera.VeraAdapter ad = Fixtures.site(pm, "default");
    assertThat(ad.lambdaD().toDoubleVector()).containsOnly(0.1f);
    assertThat(ad.lambdaB().toDoubleVector()).containsOnly(0.0);
    assertThat(ad.parameters().keySet()).containsExactly("vera_lambda_b", "vera_lambda_d");
    assertThat(ad.buffers().keySet()).containsExactly("vera_A", "vera_B");
    assertThat(pm.trainableParameters()).isEqualTo(4 + 5);
    assertThat(Vera.Config.defaults().rank()).isEqualTo(256);
  }

  @Test
  void forwardAndGradientsMatchHandComputation() {
    // W = I, A = [[1, 2], [0, 1]], B = [[1, 0], [1, 1]], d = [0.5, 2], b = [1, -1], x = [1, 1]:
    // A x = [3, 1]; d * A x = [1.5, 2]; B (.) = [1.5, 3.5]; b * (.) = [1.5, -3.5]; y = x + that
    PeftModel pm = Fixtures.peft(Fixtures.oneLayer(new float[][] {{1, 0}, {0, 1}}, new float[] {0, 0}), config(2), 2);
    Vera.VeraAdapter ad = Fixtures.site(pm, "default");
    ad.a().assign(Nd4j.createFromArray(new float[][] {{1, 2}, {0, 1}}));
    ad.b().assign(Nd4j.createFromArray(new float[][] {{1, 0}, {1, 1}}));
    ad.lambdaD().assign(Nd4j.createFromArray(0.5f, 2f));
    ad.lambdaB().assign(Nd4j.createFromArray(1f, -1f));
    Map<String, INDArray> x = Fixtures.x(new float[][] {{1, 1}});
    assertThat(pm.output(x).toDoubleVector()).containsExactly(new double[] {2.5, -2.5}, within(1e-6));
    // dL/db = B (d * A x) = [1.5, 3.5]; dL/dd_k = (A x)_k * sum_o b_o B_ok = [3 * 0, 1 * -1]
    Map<String, INDArray> g = Fixtures.gradientsOfSum(pm, x);
    assertThat(g.get(Vera.LAMBDA_B).toDoubleVector()).containsExactly(new double[] {1.5, 3.5}, within(1e-6));
    assertThat(g.get(Vera.LAMBDA_D).toDoubleVector()).containsExactly(new double[] {0, -1}, within(1e-6));
    // dW = diag(b) B diag(d) A = [[0.5, 1], [-0.5, -3]]
    assertThat(maxAbsDiff(ad.deltaWeight(), Nd4j.createFromArray(new float[][] {{0.5f, 1}, {-0.5f, -3}}))).isLessThanOrEqualTo(1e-6);
  }

  @Test
  void rankAboveTheLayerWidthIsAllowedAndMergesExactly() {
    PeftModel pm = Fixtures.peft(Fixtures.oneLayer(4, 3, 1), config(16), 2);
    train(pm, 4, 3);
    Map<String, INDArray> x = Fixtures.randomX(5, 4, 7);
    INDArray unmerged = pm.output(x);
    pm.merge();
    assertThat(maxAbsDiff(pm.output(x), unmerged)).isLessThanOrEqualTo(1e-5);
  }

  @Test
  void onlyTheScalingVectorsTrain() {
    PeftModel pm = Fixtures.peft(Fixtures.oneLayer(4, 3, 1), config(8), 2);
    Vera.VeraAdapter ad = Fixtures.site(pm, "default");
    INDArray a0 = ad.a().dup();
    INDArray b0 = ad.b().dup();
    INDArray d0 = ad.lambdaD().dup();
    train(pm, 3, 3);
    ExactArrays.assertBitIdentical(ad.a(), a0, "ad.a()");
    ExactArrays.assertBitIdentical(ad.b(), b0, "ad.b()");
    assertThat(ad.lambdaB().amaxNumber().doubleValue()).isGreaterThan(1e-3);
    assertThat(maxAbsDiff(ad.lambdaD(), d0)).isGreaterThan(1e-4); // b != 0 after step 1
  }

  @Test
  void configValidationNamesTheField() {
    assertThatThrownBy(() -> config(0)).hasMessageContaining("rank = 0");
    assertThatThrownBy(() -> new Vera.Config(4, 1, 0, 0, Double.NaN, null)).hasMessageContaining("d_initial = NaN");
  }

  private static void train(PeftModel pm, int steps, long seed) {
    int in = (int) pm.base().linearSites().get(0).in();
    int out = (int) pm.base().linearSites().get(0).out();
    new Trainer(TrainConfig.of(steps, 5e-2, seed)).train(pm, Objective.meanSquaredError(), (s, micro) -> {
      Map<String, INDArray> batch = new LinkedHashMap<>(Fixtures.randomX(8, in, seed + s));
      batch.put("targets", Fill.normal(new long[] {8, out}, 1.0, new SplittableRandom(seed + 100 + s)));
      return batch;
    });
  }
}
