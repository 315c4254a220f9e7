package dev.loraj.variants.adalora;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.loraj.core.adapter.Adapter;
import dev.loraj.core.adapter.AdapterRegistry;
import dev.loraj.core.adapter.AdapterSpec;
import dev.loraj.core.adapter.StepContext;
import dev.loraj.core.graph.Graphs;
import dev.loraj.core.lora.Fill;
import dev.loraj.core.lora.LoraAdapter;
import dev.loraj.core.lora.LoraConfig;
import dev.loraj.core.model.MlpModel;
import dev.loraj.core.model.PeftModel;
import dev.loraj.core.model.Targets;
import dev.loraj.core.train.Objective;
import dev.loraj.core.train.TrainConfig;
import dev.loraj.core.train.TrainListener;
import dev.loraj.core.train.Trainer;
import dev.loraj.variants.adalora.AdaLoraConfig.OrthReg;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/** The allocator driven by the adapter lifecycle: sharing, schedule in a real run, export, regularizer. */
class AdaLoraLifecycleTest {

  static final List<Integer> WIDTHS = List.of(10, 12, 12, 6);
  static final AdapterRegistry REGISTRY = AdapterRegistry.discover();

  static PeftModel model(AdaLoraConfig cfg, long seed) {
    PeftModel pm = new PeftModel(MlpModel.random(WIDTHS, MlpModel.Activation.TANH, false, 3), REGISTRY);
    pm.addAdapter("default", new AdapterSpec(cfg, Targets.allLinear()), seed);
    return pm;
  }

  static Map<String, INDArray> batch(long seed) {
    Map<String, INDArray> b = new LinkedHashMap<>();
    b.put("x", Fill.normal(new long[] {16, WIDTHS.get(0)}, 1.0, new SplittableRandom(seed)));
    b.put("targets", Fill.normal(new long[] {16, WIDTHS.get(3)}, 0.5, new SplittableRandom(seed + 99)));
    return b;
  }

  @Test
  void oneAllocatorPerAdapterSharedBySites() {
    AdaLoraConfig cfg = AdaLoraConfig.of(4, 2, 20, 2, 2, 1);
    PeftModel pm = model(cfg, 1);
    pm.addAdapter("other", new AdapterSpec(cfg, Targets.allLinear()), 2);
    RankAllocator first = AdaLora.allocator(pm.adapter("default"));
    assertThat(first.siteCount()).isEqualTo(3);
    assertThat(first.initialBudget()).isEqualTo(12);
    assertThat(first.targetBudget()).isEqualTo(6);
    for (Adapter a : pm.adapter("default").sites().values()) {
      assertThat(((AdaLoraAdapter) a).allocator()).isSameAs(first);
    }
    assertThat(AdaLora.allocator(pm.adapter("other"))).isNotSameAs(first);
    assertThat(AdaLora.allocator(model(cfg, 1).adapter("default"))).isNotSameAs(first); // same name, other model
    assertThat(first.rankPattern()).containsExactly(
        Map.entry("layers.0", 4), Map.entry("layers.1", 4), Map.entry("layers.2", 4));
  }

  /** Budget per step from a real Trainer run equals the schedule; the mask holds the budget. */
  @Test
  void trainerDrivesTheSchedule() {
    AdaLoraConfig cfg = AdaLoraConfig.of(4, 2, 14, 2, 4, 2);
    PeftModel pm = model(cfg, 7);
    RankAllocator alloc = AdaLora.allocator(pm.adapter("default"));
    RankAllocator.Schedule schedule = alloc.schedule();
    List<Integer> budgets = new ArrayList<>();
    List<Integer> kept = new ArrayList<>();
    List<Map<String, Integer>> patterns = new ArrayList<>();
    TrainListener l = new TrainListener() {
      @Override
      public void onStep(long step, long total, double loss, double lr, double ms) {
        budgets.add(alloc.currentBudget());
        Map<String, Integer> p = alloc.rankPattern();
        patterns.add(p);
        kept.add(p.values().stream().mapToInt(Integer::intValue).sum());
      }
    };
    new Trainer(TrainConfig.of(14, 2e-2, 3)).listen(l).train(pm, Objective.meanSquaredError(), (s, m) -> batch(s));
    for (int t = 1; t <= 14; t++) {
      assertThat(budgets.get(t - 1)).as("budget at step %d", t).isEqualTo(schedule.at(t).budget());
    }
    // steps 1, 2 (<= tinit): no mask; then masks at 4, 6, 8 and the fixed mask from step 10 = T - tfinal
    assertThat(kept.subList(0, 3)).containsOnly(12);
    for (int t : new int[] {4, 6, 8, 10, 11, 12, 13, 14}) {
      assertThat(kept.get(t - 1)).as("kept at step %d", t).isEqualTo(budgets.get(t - 1));
    }
    assertThat(alloc.fixed()).isTrue();
    assertThat(patterns.subList(9, 14)).containsOnly(patterns.get(9)); // fixed from step 10
    assertThat(alloc.allocations()).isEqualTo(4); // steps 4, 6, 8, 10
    // E carries the mask; deltaWeight uses it
    for (Adapter a : pm.adapter("default").sites().values()) {
      AdaLoraAdapter ada = (AdaLoraAdapter) a;
      boolean[] mask = ada.mask();
      for (int i = 0; i < mask.length; i++) {
        if (!mask[i]) {
          assertThat(ada.e().getDouble(i, 0)).isZero();
        }
      }
      INDArray expected = ada.b().mmul(ada.a().mulColumnVector(ada.e())).muli(ada.scaling());
      assertThat(ada.deltaWeight().equalsWithEps(expected, 1e-7)).isTrue();
    }
  }

  @Test
  void partialReportIsAnError() {
    PeftModel pm = model(AdaLoraConfig.of(4, 2, 20, 2, 2, 1), 1);
    List<Adapter> sites = List.copyOf(pm.adapter("default").sites().values());
    sites.get(0).afterStep(new StepContext(1, 20, Map.of()));
    assertThatThrownBy(() -> sites.get(0).afterStep(new StepContext(1, 20, Map.of())))
        .isInstanceOf(IllegalStateException.class).hasMessageContaining("twice");
    assertThatThrownBy(() -> sites.get(1).afterStep(new StepContext(2, 20, Map.of())))
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("reported step 2 while [layers.1, layers.2] have not reported step 1");
  }

  /** The AdaLoRA delta exported as plain LoRA (own rank and alpha per module) gives the same outputs. */
  @Test
  void exportAsPlainLoraGivesTheSameOutput() {
    AdaLoraConfig cfg = AdaLoraConfig.of(4, 2, 12, 1, 3, 1);
    PeftModel pm = model(cfg, 5);
    new Trainer(TrainConfig.of(12, 2e-2, 3)).train(pm, Objective.meanSquaredError(), (s, m) -> batch(s));
    Map<String, AdaLoraAdapter.LoraWeights> export = AdaLora.exportAsLora(pm.adapter("default"));
    Map<String, Integer> ranks = AdaLora.rankPattern(pm.adapter("default"));
    assertThat(export).isNotEmpty();
    export.forEach((path, w) -> assertThat(w.rank()).as(path).isEqualTo(ranks.get(path)));
    assertThat(ranks.values().stream().mapToInt(Integer::intValue).sum()).isEqualTo(6);

    Map<String, Integer> rankPattern = new LinkedHashMap<>();
    Map<String, Double> alphaPattern = new LinkedHashMap<>();
    export.forEach((path, w) -> {
      rankPattern.put(path, w.rank());
      alphaPattern.put(path, w.alpha());
    });
    Targets targets = Targets.of(export.keySet().toArray(String[]::new))
        .withRankPattern(rankPattern).withAlphaPattern(alphaPattern);
    PeftModel lora = new PeftModel(pm.base(), REGISTRY);
    lora.addAdapter("exported", new AdapterSpec(LoraConfig.of(1, 1), targets), 0);
    lora.adapter("exported").sites().forEach((path, a) -> {
      LoraAdapter la = (LoraAdapter) a;
      la.a().assign(export.get(path).a());
      la.b().assign(export.get(path).b());
      assertThat(la.scaling()).isCloseTo(cfg.scaling(), org.assertj.core.data.Offset.offset(1e-12));
      assertThat(la.deltaWeight().equalsWithEps(
          pm.adapter("default").sites().get(path).deltaWeight(), 1e-6)).isTrue();
    });
    Map<String, INDArray> in = Map.of("x", batch(1234).get("x"));
    INDArray ada = pm.output(in);
    INDArray plain = lora.output(in);
    assertThat(ada.sub(plain).amaxNumber().doubleValue()).isLessThanOrEqualTo(1e-5);
    assertThat(ada.sub(new PeftModel(pm.base(), REGISTRY).output(in)).amaxNumber().doubleValue())
        .as("the adapter changed the output").isGreaterThan(1e-3);
  }

  /**
   * The trainer records the objective alone beside the loss it differentiates: at step 1 (before
   * any update) the two differ by the regularizer of the initial A and B; without a regularizer
   * they are the same numbers.
   */
  @Test
  void trainerRecordsTheTaskLossWithoutTheRegularizer() {
    AdaLoraConfig cfg = AdaLoraConfig.of(4, 2, 20, 2, 2, 1).withOrthReg(OrthReg.PAPER, 0.3);
    PeftModel.Built built = model(cfg, 9).build(true, null);
    double reg = Graphs.output(built.sd(), Map.of("x", batch(1).get("x")), built.regularization().name()).getDouble(0);
    var r = new Trainer(TrainConfig.of(3, 2e-2, 3)).train(model(cfg, 9), Objective.meanSquaredError(), (s, m) -> batch(s));
    assertThat(r.taskLosses()).hasSameSizeAs(r.losses());
    assertThat(r.losses().get(0) - r.taskLosses().get(0))
        .isCloseTo(reg, org.assertj.core.data.Percentage.withPercentage(1e-3));
    for (int i = 0; i < 3; i++) {
      assertThat(r.taskLosses().get(i)).isLessThan(r.losses().get(i));
    }

    PeftModel lora = new PeftModel(MlpModel.random(WIDTHS, MlpModel.Activation.TANH, false, 3), REGISTRY);
    lora.addAdapter("default", new AdapterSpec(LoraConfig.of(2, 4), Targets.allLinear()), 9);
    var plain = new Trainer(TrainConfig.of(3, 2e-2, 3)).train(lora, Objective.meanSquaredError(), (s, m) -> batch(s));
    assertThat(plain.taskLosses()).isEqualTo(plain.losses());
  }

  /** Both regularizer forms against a direct computation on the initial A and B. */
  @Test
  void orthogonalityRegularizerForms() {
    for (OrthReg form : OrthReg.values()) {
      AdaLoraConfig cfg = AdaLoraConfig.of(4, 2, 20, 2, 2, 1).withOrthReg(form, 0.3);
      PeftModel pm = model(cfg, 9);
      PeftModel.Built built = pm.build(true, null);
      double got = Graphs.output(built.sd(), Map.of("x", batch(1).get("x")), built.regularization().name())
          .getDouble(0);
      double expected = 0;
      int n = pm.adapter("default").sites().size();
      for (Adapter a : pm.adapter("default").sites().values()) {
        AdaLoraAdapter ada = (AdaLoraAdapter) a;
        INDArray eye = Nd4j.eye(4).castTo(ada.a().dataType());
        INDArray qq = ada.a().mmul(ada.a().transpose()).sub(eye); // [r, in] x [in, r]
        INDArray pp = ada.b().transpose().mmul(ada.b()).sub(eye); // [r, out] x [out, r]
        double q = qq.norm2Number().doubleValue();
        double p = pp.norm2Number().doubleValue();
        expected += form == OrthReg.PAPER ? 0.3 * (q * q + p * p) : 0.3 * (q + p) / (2.0 * n);
      }
      assertThat(got).as(form.name()).isCloseTo(expected, org.assertj.core.data.Percentage.withPercentage(1e-3));
    }
  }
}
