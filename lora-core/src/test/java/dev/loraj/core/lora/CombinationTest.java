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

/** PEFT's test_initialization "combination" behaviours: cat is the exact weighted sum. */
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
}
