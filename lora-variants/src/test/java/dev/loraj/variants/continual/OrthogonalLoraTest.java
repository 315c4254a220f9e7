package dev.loraj.variants.continual;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import dev.loraj.core.adapter.AdapterRegistry;
import dev.loraj.core.adapter.AdapterSpec;
import dev.loraj.core.lora.LoraAdapter;
import dev.loraj.core.lora.LoraConfig;
import dev.loraj.core.model.MlpModel;
import dev.loraj.core.model.PeftModel;
import dev.loraj.core.model.Targets;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.ndarray.INDArray;

class OrthogonalLoraTest {

  /** The graph's penalty equals a hand computation (Java loops) for both forms, plus lambda2. */
  @Test
  void penaltyMatchesHandComputationForBothForms() {
    for (OrthogonalLora.Penalty form : OrthogonalLora.Penalty.values()) {
      PeftModel model = new PeftModel(MlpModel.random(List.of(6, 5, 4), MlpModel.Activation.TANH, true, 3),
          AdapterRegistry.discover());
      Targets t = Targets.of("layers.0");
      model.addAdapter("t0", new AdapterSpec(LoraConfig.of(2, 4), t), 1);
      model.addAdapter("t1", new AdapterSpec(LoraConfig.of(3, 4), t), 2);
      double l1 = 0.7;
      double l2 = 0.3;
      model.addAdapter("t2", new AdapterSpec(new OrthogonalLora.Config(2, 8, 0, l1, l2, form, List.of("t0", "t1")), t), 3);
      model.setActive("t2");
      LoraAdapter cur = (LoraAdapter) model.adapter("t2").sites().get("layers.0");
      cur.b().assign(dev.loraj.core.lora.Fill.normal(new long[] {5, 2}, 1.0, new java.util.SplittableRandom(9)));
      double expected = 0;
      for (String prevName : List.of("t0", "t1")) {
        INDArray prev = ((LoraAdapter) model.adapter(prevName).sites().get("layers.0")).a();
        for (int j = 0; j < prev.rows(); j++) {
          for (int k = 0; k < cur.a().rows(); k++) {
            double dot = 0;
            for (int c = 0; c < 6; c++) {
              dot += prev.getDouble(j, c) * cur.a().getDouble(k, c);
            }
            expected += l1 * (form == OrthogonalLora.Penalty.SQUARED ? dot * dot : Math.abs(dot));
          }
        }
      }
      double sq = 0;
      for (INDArray p : List.of(cur.a(), cur.b())) {
        for (double v : p.dup().data().asDouble()) {
          sq += v * v;
        }
      }
      expected += l2 * sq;
      PeftModel.Built b = model.build(true, null);
      double got = b.regularization().eval().getDouble(0);
      assertThat(got).as(form.json()).isCloseTo(expected, within(1e-5 * Math.max(1, expected)));
      assertThat(expected).isGreaterThan(0);
    }
  }

  @Test
  void missingEarlierAdapterSiteIsSkippedAndWrongTypeRefused() {
    PeftModel model = new PeftModel(MlpModel.random(List.of(6, 5, 4), MlpModel.Activation.TANH, true, 3),
        AdapterRegistry.discover());
    model.addAdapter("vera", new AdapterSpec(AdapterRegistry.discover().get("vera").defaultConfig()
        .withRankAndAlpha(2, 2), Targets.of("layers.0")), 1);
    assertThatThrownBy(() -> model.addAdapter("t", new AdapterSpec(OrthogonalLora.Config.defaults()
        .withRankAndAlpha(2, 4).withPrevious(List.of("vera")), Targets.of("layers.0")), 2))
        .hasMessageContaining("previous_adapters").hasMessageContaining("vera");
    // an unknown name contributes nothing: no penalty at the first task
    model.addAdapter("first", new AdapterSpec(OrthogonalLora.Config.defaults().withRankAndAlpha(2, 4)
        .withPrevious(List.of("nothing")), Targets.of("layers.0")), 2);
    assertThat(model.adapter("first").sites().get("layers.0").buffers()).isEqualTo(Map.of());
  }

  @Test
  void configValidationNamesTheField() {
    assertThatThrownBy(() -> new OrthogonalLora.Config(8, 32, 0, -1, 0, null, null)).hasMessageContaining("lambda1 = -1");
    assertThatThrownBy(() -> OrthogonalLora.Penalty.parse("cube")).hasMessageContaining("squared, absolute");
  }
}
