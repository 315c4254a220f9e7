package dev.loraj.core.lora;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.loraj.core.adapter.AdapterRegistry;
import dev.loraj.core.adapter.AdapterSpec;
import dev.loraj.core.linalg.Svd;
import dev.loraj.core.model.MlpModel;
import dev.loraj.core.model.PeftModel;
import dev.loraj.core.model.Targets;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * PEFT's test_initialization "combination" behaviours (cat is the exact weighted sum), and what
 * the PEFT golden files cannot check: DARE's random masks (their statistics and their seed).
 */
class CombinationTest {

  PeftModel model() {
    MlpModel base = MlpModel.random(List.of(32, 24, 6), MlpModel.Activation.RELU, true, 1);
    PeftModel pm = new PeftModel(base, AdapterRegistry.discover());
    pm.addAdapter("x", new AdapterSpec(LoraConfig.of(4, 8), Targets.of("layers.0")), 1);
    pm.addAdapter("y", new AdapterSpec(LoraConfig.of(2, 4), Targets.of("layers.0")), 2);
    for (String n : List.of("x", "y")) {
      LoraAdapter a = (LoraAdapter) pm.adapter(n).sites().get("layers.0");
      Fill.normal(a.b(), 0, 0.3, new SplittableRandom(n.hashCode()));
    }
    return pm;
  }

  INDArray delta(PeftModel pm, String n) {
    return pm.adapter(n).sites().get("layers.0").deltaWeight();
  }

  @Test
  void catIsTheExactWeightedSumOfDeltas() {
    PeftModel pm = model();
    Combination.combine(pm, "xy", List.of("x", "y"), List.of(0.7, -1.5), Combination.Type.CAT, 0);
    INDArray expected = delta(pm, "x").mul(0.7).add(delta(pm, "y").mul(-1.5));
    assertThat(delta(pm, "xy").equalsWithEps(expected, 1e-5)).isTrue();
    assertThat(((LoraAdapter) pm.adapter("xy").sites().get("layers.0")).rank()).isEqualTo(6);
  }

  @Test
  void svdIsTheBestRankKApproximation() {
    PeftModel pm = model();
    Combination.combine(pm, "s", List.of("x", "y"), List.of(1.0, 1.0), Combination.Type.SVD, 3);
    INDArray sum = delta(pm, "x").add(delta(pm, "y"));
    INDArray best = Svd.exact(sum).top(3).reconstruct();
    assertThat(delta(pm, "s").equalsWithEps(best, 1e-4)).isTrue();
  }

  @Test
  void linearNeedsEqualRanksAndIsNotTheWeightedSum() {
    PeftModel pm = model();
    assertThatThrownBy(() -> Combination.combine(pm, "l", List.of("x", "y"), List.of(1.0, 1.0), Combination.Type.LINEAR, 0))
        .hasMessageContaining("needs equal ranks");
    Combination.combine(pm, "xx", List.of("x", "x"), List.of(0.5, 0.5), Combination.Type.LINEAR, 0);
    // sqrt(0.5 s)A + sqrt(0.5 s)A = sqrt(2 s) A, same for B: delta = 2 s BA = 2 * dW_x (cross terms)
    assertThat(delta(pm, "xx").equalsWithEps(delta(pm, "x").mul(2), 1e-4)).isTrue();
  }

  @Test
  void aSingleAdapterIsCombinedLinearlyAndANegativeWeightNegatesIt() {
    PeftModel pm = model();
    // one adapter: linear whatever the type (as PEFT); sign(w s) sqrt(|w s|) A and sqrt(|w s|) B
    Combination.combine(pm, "neg", List.of("x"), List.of(-1.5),
        new Combination.Method(Combination.Type.TIES, 0, 0.2, TaskArithmetic.MajoritySign.TOTAL, 0));
    assertThat(delta(pm, "neg").equalsWithEps(delta(pm, "x").mul(-1.5), 1e-5)).isTrue();
  }

  @Test
  void pruningTypesNeedADensityAndNamesAreParsedAsPeftSpellsThem() {
    assertThatThrownBy(() -> Combination.Method.of(Combination.Type.DARE_TIES, 0))
        .hasMessageContaining("'dare_ties' needs density");
    assertThatThrownBy(() -> new Combination.Method(Combination.Type.TIES, 0, -0.1, TaskArithmetic.MajoritySign.TOTAL, 0))
        .hasMessageContaining("density = -0.1");
    assertThat(Combination.Type.parse("magnitude_prune_svd")).isEqualTo(Combination.Type.MAGNITUDE_PRUNE_SVD);
    assertThatThrownBy(() -> Combination.Type.parse("dare")).hasMessageContaining("accepted: cat, linear, svd, ties");
    assertThatThrownBy(() -> TaskArithmetic.MajoritySign.parse("sum")).hasMessageContaining("accepted are total, frequency");
  }

  @Test
  void dareKeepsTheDensityFractionRescaledSoTheExpectationIsUnchanged() {
    INDArray ones = org.nd4j.linalg.factory.Nd4j.ones(200, 200);
    INDArray pruned = TaskArithmetic.randomPrune(ones, 0.3, true, new SplittableRandom(7));
    double kept = pruned.neq(0).castTo(org.nd4j.linalg.api.buffer.DataType.DOUBLE).meanNumber().doubleValue();
    // 40,000 Bernoulli(0.3) draws: std of the fraction 0.0023
    assertThat(kept).isCloseTo(0.3, org.assertj.core.api.Assertions.within(0.015));
    assertThat(pruned.maxNumber().doubleValue()).isCloseTo(1 / 0.3, org.assertj.core.api.Assertions.within(1e-6));
    assertThat(pruned.meanNumber().doubleValue()).isCloseTo(1.0, org.assertj.core.api.Assertions.within(0.05));
    assertThat(TaskArithmetic.randomPrune(ones, 1.0, true, new SplittableRandom(7))).isEqualTo(ones);
  }

  @Test
  void dareIsDeterministicGivenItsSeed() {
    for (Combination.Type type : List.of(Combination.Type.DARE_LINEAR, Combination.Type.DARE_TIES_SVD)) {
      INDArray first = dare(type, 11);
      assertThat(dare(type, 11)).as("%s, same seed", type).isEqualTo(first);
      assertThat(dare(type, 12).equalsWithEps(first, 1e-6)).as("%s, another seed", type).isFalse();
    }
  }

  private INDArray dare(Combination.Type type, long seed) {
    PeftModel pm = model();
    PeftModel.NamedAdapter y = pm.adapter("y");
    pm.deleteAdapter("y"); // equal ranks for the factorwise types
    pm.addAdapter("y", new AdapterSpec(LoraConfig.of(4, 4), y.spec().targets()), 5);
    Fill.normal(((LoraAdapter) pm.adapter("y").sites().get("layers.0")).b(), 0, 0.3, new SplittableRandom(9));
    Combination.combine(pm, "d", List.of("x", "y"), List.of(0.6, 0.8),
        new Combination.Method(type, 0, 0.5, TaskArithmetic.MajoritySign.TOTAL, seed));
    return delta(pm, "d");
  }
}
