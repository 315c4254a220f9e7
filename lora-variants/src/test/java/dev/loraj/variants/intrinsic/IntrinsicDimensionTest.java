package dev.loraj.variants.intrinsic;

import dev.loraj.core.testing.ExactArrays;
import static dev.loraj.variants.Fixtures.maxAbsDiff;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import dev.loraj.core.adapter.AdapterSpec;
import dev.loraj.core.adapter.ConfigCodec;
import dev.loraj.core.lora.Fill;
import dev.loraj.core.model.LinearSite;
import dev.loraj.core.model.MlpModel;
import dev.loraj.core.model.PeftModel;
import dev.loraj.core.model.Targets;
import dev.loraj.core.train.Objective;
import dev.loraj.core.train.TrainConfig;
import dev.loraj.core.train.Trainer;
import dev.loraj.variants.Fixtures;
import dev.loraj.variants.intrinsic.IntrinsicDimension.Config;
import dev.loraj.variants.intrinsic.IntrinsicDimension.IntrinsicAdapter;
import dev.loraj.variants.intrinsic.IntrinsicDimension.Projection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.ops.transforms.Transforms;

/** theta_D = theta_0 + P theta_d (Li et al. 2018, arXiv 1804.08838, section 2, eq. 2). */
class IntrinsicDimensionTest {

  /** 5 -> 4 -> 3, tanh (smooth, for finite differences); sites layers.0 [4, 5], layers.1 [3, 4]: D = 32. */
  static MlpModel small() {
    return MlpModel.random(List.of(5, 4, 3), MlpModel.Activation.TANH, false, 1);
  }

  static PeftModel peft(MlpModel base, Config config) {
    PeftModel pm = new PeftModel(base, Fixtures.REGISTRY);
    pm.addAdapter("default", new AdapterSpec(config, Targets.allLinear()), 3);
    return pm;
  }

  static INDArray randomTheta(int d, long seed) {
    return Fill.normal(new long[] {d}, 1.0, new SplittableRandom(seed));
  }

  /** x -> tanh(x W0^T + b0) -> (.) W1^T + b1 with explicit weights. */
  static INDArray forward(INDArray x, INDArray w0, INDArray b0, INDArray w1, INDArray b1) {
    INDArray h = Transforms.tanh(x.mmul(w0.transpose()).addRowVector(b0)); // [n, 5] x [5, 4]
    return h.mmul(w1.transpose()).addRowVector(b1); // [n, 4] x [4, 3]
  }

  @ParameterizedTest
  @EnumSource(Projection.class)
  void deltaIsReshapedPThetaAndTheGraphUsesIt(Projection projection) {
    MlpModel base = small();
    Map<String, INDArray> w = new LinkedHashMap<>();
    base.weights().forEach((k, v) -> w.put(k, v.dup()));
    PeftModel pm = peft(base, Config.of(6, projection, 5));
    IntrinsicAdapter ad = IntrinsicDimension.of(pm.adapter("default"));
    ad.theta().assign(randomTheta(6, 2));
    INDArray p = ad.projectionMatrix(); // [32, 6]
    assertThat(p.shape()).containsExactly(32L, 6L);
    INDArray flat = p.mmul(ad.theta().reshape(6, 1)); // [32, 6] x [6, 1]
    INDArray d0 = flat.get(org.nd4j.linalg.indexing.NDArrayIndex.interval(0, 20)).reshape(4, 5);
    INDArray d1 = flat.get(org.nd4j.linalg.indexing.NDArrayIndex.interval(20, 32)).reshape(3, 4);
    IntrinsicAdapter s0 = (IntrinsicAdapter) pm.adapter("default").sites().get("layers.0");
    IntrinsicAdapter s1 = (IntrinsicAdapter) pm.adapter("default").sites().get("layers.1");
    assertThat(maxAbsDiff(s0.deltaWeight(), d0)).isLessThanOrEqualTo(1e-6);
    assertThat(maxAbsDiff(s1.deltaWeight(), d1)).isLessThanOrEqualTo(1e-6);
    INDArray x = Fill.normal(new long[] {7, 5}, 1.0, new SplittableRandom(4));
    INDArray expected = forward(x, w.get("layers.0.weight").add(d0), w.get("layers.0.bias"),
        w.get("layers.1.weight").add(d1), w.get("layers.1.bias"));
    assertThat(maxAbsDiff(pm.output(Map.of("x", x)), expected)).isLessThanOrEqualTo(1e-5);
  }

  @ParameterizedTest
  @EnumSource(Projection.class)
  void columnsOfPHaveUnitLength(Projection projection) {
    MlpModel base = MlpModel.random(List.of(40, 30, 10), MlpModel.Activation.RELU, false, 1);
    IntrinsicAdapter ad = IntrinsicDimension.of(peft(base, Config.of(12, projection, 0)).adapter("default"));
    INDArray norms = ad.projectionMatrix().norm2(0); // [12]
    for (double n : norms.toDoubleVector()) {
      assertThat(n).isCloseTo(1.0, within(1e-5));
    }
  }

  @Test
  void sparseProjectionHasAboutDSqrtDNonZerosOfEqualMagnitudePerColumn() {
    // D = 64 * 64 + 64 * 10 = 4736, s = sqrt(D) = 68.8: expected d * D / s = 50 * 68.8 = 3441
    MlpModel base = MlpModel.random(List.of(64, 64, 10), MlpModel.Activation.RELU, false, 1);
    IntrinsicAdapter ad = IntrinsicDimension.of(peft(base, Config.of(50, Projection.SPARSE, 0)).adapter("default"));
    assertThat(ad.totalDimension()).isEqualTo(4736);
    assertThat((double) ad.projectionNonZeros()).isCloseTo(50 * Math.sqrt(4736), within(0.1 * 50 * Math.sqrt(4736)));
    INDArray p = ad.projectionMatrix();
    for (int j = 0; j < 50; j++) {
      double[] col = p.getColumn(j).toDoubleVector();
      double nz = java.util.Arrays.stream(col).filter(v -> v != 0).count();
      for (double v : col) {
        if (v != 0) {
          assertThat(Math.abs(v)).isCloseTo(1 / Math.sqrt(nz), within(1e-6));
        }
      }
    }
  }

  @ParameterizedTest
  @EnumSource(Projection.class)
  void gradientWrtThetaIsPTransposedTimesTheWeightGradient(Projection projection) {
    MlpModel base = small();
    PeftModel pm = peft(base, Config.of(6, projection, 5));
    IntrinsicAdapter ad = IntrinsicDimension.of(pm.adapter("default"));
    ad.theta().assign(randomTheta(6, 2).mul(0.5));
    Map<String, INDArray> x = Map.of("x", Fill.normal(new long[] {7, 5}, 1.0, new SplittableRandom(4)));
    INDArray gTheta = Fixtures.gradientsOfSum(pm, x).get(IntrinsicDimension.THETA); // [6]

    // dL/dW of the same loss on the merged weights, by full fine-tuning's gradient
    PeftModel full = new PeftModel(pm.mergeAndUnload(), Fixtures.REGISTRY);
    full.addTrainableBase(java.util.Set.of("layers.0.weight", "layers.1.weight"));
    Map<String, INDArray> gw = Fixtures.gradientsOfSum(full, x);
    INDArray gFlat = Nd4j.concat(0, gw.get("layers.0.weight").reshape(20), gw.get("layers.1.weight").reshape(12));
    INDArray expected = ad.projectionMatrix().transpose().mmul(gFlat.reshape(32, 1)).reshape(6); // [6, 32] x [32, 1]
    assertThat(maxAbsDiff(gTheta, expected)).isLessThanOrEqualTo(1e-4 * expected.amaxNumber().doubleValue() + 1e-6);

    // and central finite differences of the loss along each coordinate of theta_d
    double eps = 1e-2;
    for (int j = 0; j < 6; j++) {
      double t = ad.theta().getDouble(j);
      ad.theta().putScalar(j, t + eps);
      double up = loss(pm, x);
      ad.theta().putScalar(j, t - eps);
      double down = loss(pm, x);
      ad.theta().putScalar(j, t);
      assertThat((up - down) / (2 * eps)).as("d loss / d theta_%d", j)
          .isCloseTo(gTheta.getDouble(j), within(2e-3 * Math.max(1, Math.abs(gTheta.getDouble(j)))));
    }
  }

  private static double loss(PeftModel pm, Map<String, INDArray> x) {
    PeftModel.Built b = pm.build(false, null);
    return b.sd().output(x, b.output().name()).get(b.output().name()).castTo(DataType.DOUBLE).sumNumber().doubleValue();
  }

  @ParameterizedTest
  @EnumSource(Projection.class)
  void zeroThetaGivesExactlyTheBaseOutput(Projection projection) {
    MlpModel base = small();
    INDArray x = Fill.normal(new long[] {7, 5}, 1.0, new SplittableRandom(4));
    INDArray before = new PeftModel(base, Fixtures.REGISTRY).output(Map.of("x", x));
    PeftModel pm = peft(base, Config.of(6, projection, 5));
    assertThat(IntrinsicDimension.of(pm.adapter("default")).theta().toDoubleVector()).containsOnly(0.0);
    assertThat(maxAbsDiff(pm.output(Map.of("x", x)), before)).isEqualTo(0.0);
  }

  @Test
  void oneThetaForAllSitesIsOneTrainedVariable() {
    MlpModel base = MlpModel.random(List.of(8, 8, 8, 5), MlpModel.Activation.RELU, false, 3);
    Map<String, INDArray> w0 = new LinkedHashMap<>();
    base.weights().forEach((k, v) -> w0.put(k, v.dup()));
    PeftModel pm = peft(base, Config.of(10, Projection.SPARSE, 1));
    var sites = pm.adapter("default").sites();
    assertThat(sites).hasSize(3);
    INDArray theta = IntrinsicDimension.of(pm.adapter("default")).theta();
    sites.values().forEach(a -> assertThat(a.parameters().get(IntrinsicDimension.THETA)).isSameAs(theta));
    assertThat(pm.trainableParameters()).isEqualTo(10);
    assertThat(pm.build(true, null).trainable()).hasSize(1);
    var trainer = new Trainer(TrainConfig.of(3, 1e-2, 3));
    var result = trainer.train(pm, Objective.meanSquaredError(), (s, m) -> {
      Map<String, INDArray> b = new LinkedHashMap<>();
      b.put("x", Fill.normal(new long[] {6, 8}, 1.0, new SplittableRandom(s)));
      b.put("targets", Fill.normal(new long[] {6, 5}, 1.0, new SplittableRandom(100 + s)));
      return b;
    });
    assertThat(result.trainableParameters()).isEqualTo(10);
    // Adam moves every coordinate by about lr on the first step
    assertThat(theta.amaxNumber().doubleValue()).isGreaterThan(5e-3);
    w0.forEach((k, v) -> ExactArrays.assertBitIdentical(base.weights().get(k), v, String.format("base %s", k)));
    IntrinsicDimension f = new IntrinsicDimension();
    List<LinearSite> all = Targets.allLinear().resolve(base.linearSites());
    assertThat(f.trainableParameters(Config.of(10, Projection.SPARSE, 1), all)).isEqualTo(10);
    assertThat(dev.loraj.core.model.ArchitectureCards.trainableParameters(base.linearSites(),
        Targets.allLinear(), Config.of(10, Projection.SPARSE, 1), f)).isEqualTo(10);
  }

  @Test
  void theSeedAloneFixesP() {
    MlpModel base = small();
    INDArray a = IntrinsicDimension.of(peft(base, Config.of(4, Projection.SPARSE, 7)).adapter("default")).projectionMatrix();
    INDArray b = IntrinsicDimension.of(peft(small(), Config.of(4, Projection.SPARSE, 7)).adapter("default")).projectionMatrix();
    INDArray c = IntrinsicDimension.of(peft(small(), Config.of(4, Projection.SPARSE, 8)).adapter("default")).projectionMatrix();
    ExactArrays.assertBitIdentical(a, b, "a");
    assertThat(a.equals(c)).isFalse();
  }

  @Test
  void configErrorsNameTheFieldAndConfigRoundTrips() {
    assertThatThrownBy(() -> Config.of(0, Projection.DENSE, 0)).hasMessageContaining("dim = 0");
    ConfigCodec codec = new ConfigCodec(Fixtures.REGISTRY);
    assertThatThrownBy(() -> codec.fromJson("{\"type\": \"intrinsic\", \"projection\": \"fastfood\"}"))
        .hasMessageContaining("fastfood").hasMessageContaining("accepted dense, sparse");
    Config cfg = (Config) codec.fromJson("{\"type\": \"intrinsic\", \"dim\": 300}");
    assertThat(cfg).isEqualTo(Config.of(300, Projection.SPARSE, 0));
    assertThat(codec.toJson(cfg)).contains("\"dim\" : 300", "\"projection\" : \"sparse\"").doesNotContain("rank");
    MlpModel base = small();
    PeftModel pm = new PeftModel(base, Fixtures.REGISTRY);
    assertThatThrownBy(() -> pm.addAdapter("x", new AdapterSpec(Config.of(4, Projection.DENSE, 0),
        Targets.allLinear().withRankPattern(Map.of("layers.1", 8))), 1)).hasMessageContaining("rank_pattern");
  }

  @Test
  void aDenseProjectionBeyondTheLimitIsRefusedWithAHint() {
    MlpModel base = MlpModel.random(List.of(784, 200, 200, 10), MlpModel.Activation.RELU, false, 1);
    PeftModel pm = peft(base, Config.of(2000, Projection.DENSE, 0));
    Map<String, INDArray> x = Map.of("x", Nd4j.zeros(DataType.FLOAT, 1, 784));
    assertThatThrownBy(() -> pm.output(x)).hasStackTraceContaining("use projection = sparse");
  }
}
