package dev.loraj.core.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import dev.loraj.core.adapter.AdapterRegistry;
import dev.loraj.core.adapter.AdapterSpec;
import dev.loraj.core.adapter.BiasMode;
import dev.loraj.core.checkpoint.PeftAdapters;
import dev.loraj.core.io.SafetensorsFile;
import dev.loraj.core.lora.Fill;
import dev.loraj.core.lora.LoraAdapter;
import dev.loraj.core.lora.LoraConfig;
import dev.loraj.core.train.Objective;
import dev.loraj.core.train.TrainConfig;
import dev.loraj.core.train.Trainer;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * PEFT's model-level behaviours on a small MLP: per-adapter {@code modules_to_save} copies, bias
 * modes ({@code none}, {@code all}, {@code lora_only}), safe merge refusing non-finite weights,
 * deleting adapters, and gradient clipping by global norm.
 */
class PeftModelLifecycleTest {

  /** layers.0 [16 x 12], layers.1 [8 x 16], head [3 x 8], all with biases. */
  static PeftModel model() {
    return new PeftModel(MlpModel.random(List.of(12, 16, 8, 3), MlpModel.Activation.TANH, true, 5),
        AdapterRegistry.discover());
  }

  static Map<String, INDArray> batch(long step, int micro) {
    SplittableRandom r = new SplittableRandom(step * 31 + micro);
    return Map.of("x", Fill.normal(new long[] {6, 12}, 1, r), "targets", Fill.normal(new long[] {6, 3}, 1, r));
  }

  static void perturbB(PeftModel pm, String adapter) {
    for (var a : pm.adapter(adapter).sites().values()) {
      Fill.normal(((LoraAdapter) a).b(), 0, 0.3, new SplittableRandom(a.site().path().hashCode()));
    }
  }

  static Map<String, INDArray> x() {
    return Map.of("x", Fill.normal(new long[] {4, 12}, 1, new SplittableRandom(77)));
  }

  @Test
  void biasModesTrainTheBiasesPeftTrains(@TempDir Path tmp) throws Exception {
    Map<BiasMode, Set<String>> expected = Map.of(
        BiasMode.NONE, Set.of(),
        BiasMode.ALL, Set.of("layers.0.bias", "layers.1.bias", "head.bias"),
        BiasMode.LORA_ONLY, Set.of("layers.0.bias"));
    for (BiasMode mode : BiasMode.values()) {
      PeftModel pm = model();
      pm.addAdapter("default", new AdapterSpec(LoraConfig.of(2, 4).withBias(mode), Targets.of("layers.0")), 1);
      assertThat(pm.trainableBase()).as("bias = %s", mode.json()).isEqualTo(expected.get(mode));
      Map<String, INDArray> before = new LinkedHashMap<>();
      pm.base().weights().forEach((k, v) -> before.put(k, v.dup()));
      new Trainer(TrainConfig.of(2, 1e-2, 1)).train(pm, Objective.meanSquaredError(), PeftModelLifecycleTest::batch);
      for (String w : before.keySet()) {
        boolean moved = !pm.base().weights().get(w).equals(before.get(w));
        assertThat(moved).as("bias = %s: %s moved", mode.json(), w).isEqualTo(expected.get(mode).contains(w));
      }
      Path dir = tmp.resolve(mode.json());
      PeftAdapters.save(pm, "default", dir);
      try (SafetensorsFile f = SafetensorsFile.open(dir.resolve("adapter_model.safetensors"))) {
        for (String b : expected.get(mode)) {
          assertThat(f.names()).as("bias = %s saves %s", mode.json(), b).contains(PeftAdapters.KEY_PREFIX + b);
        }
      }
    }
  }

  @Test
  void safeMergeRefusesNonFiniteWeightsAndLeavesTheBaseAsItWas() {
    PeftModel pm = model();
    pm.addAdapter("default", new AdapterSpec(LoraConfig.of(2, 4), Targets.allLinear()), 1);
    perturbB(pm, "default");
    ((LoraAdapter) pm.adapter("default").sites().get("layers.1")).b().putScalar(0, 0, Float.POSITIVE_INFINITY);
    Map<String, INDArray> before = new LinkedHashMap<>();
    pm.base().weights().forEach((k, v) -> before.put(k, v.dup()));
    assertThatThrownBy(() -> pm.safeMerge("default"))
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("safe merge of adapter 'default' refused")
        .hasMessageContaining("'layers.1'");
    assertThat(pm.adapter("default").merged()).isFalse();
    before.forEach((k, v) -> assertThat(pm.base().weights().get(k)).as(k).isEqualTo(v));
    // the same adapter with finite values merges safely and equals the unmerged model
    ((LoraAdapter) pm.adapter("default").sites().get("layers.1")).b().putScalar(0, 0, 0.1f);
    INDArray unmerged = pm.output(x());
    pm.safeMerge("default");
    assertThat(pm.output(x()).equalsWithEps(unmerged, 1e-5)).isTrue();
  }

  @Test
  void deleteAdapterRemovesItsBranchAndRestoresAMergedBase() {
    PeftModel pm = model();
    INDArray base = pm.output(x());
    pm.addAdapter("a", new AdapterSpec(LoraConfig.of(2, 4), Targets.allLinear()), 1);
    pm.addAdapter("b", new AdapterSpec(LoraConfig.of(2, 4), Targets.of("layers.1")), 2);
    perturbB(pm, "a");
    perturbB(pm, "b");
    pm.setActive("b");
    INDArray onlyB = pm.output(x());
    pm.setActive("a", "b");
    pm.merge();
    pm.deleteAdapter("a"); // merged: unmerged first, b stays merged
    assertThat(pm.adapterNames()).containsExactly("b");
    assertThat(pm.active()).containsExactly("b");
    assertThat(pm.adapter("b").merged()).isTrue();
    assertThat(pm.output(x()).equalsWithEps(onlyB, 1e-5)).as("b alone").isTrue();
    pm.deleteAdapter("b");
    assertThat(pm.adapterNames()).isEmpty();
    assertThat(pm.output(x()).equalsWithEps(base, 1e-5)).as("base restored").isTrue();
    assertThatThrownBy(() -> pm.deleteAdapter("a")).hasMessageContaining("no adapter named 'a'");
  }

  @Test
  void clippingScalesTheGradientToTheGlobalNorm() {
    // with epsilon >> |g| Adam's first update is proportional to g, so the update norms compare
    // the clipped gradients: u(c) / u(off) = c / ||g|| below the norm, 1 above it (learning rate
    // 1e4 so that the updates stand well above the float32 rounding of the parameters)
    double off = firstUpdateNorm(0);
    double small = 0.01;
    double clippedSmall = firstUpdateNorm(small);
    assertThat(clippedSmall).as("a small threshold clips").isLessThan(off / 2);
    double gradNorm = small * off / clippedSmall; // the global norm the clipping saw
    System.out.printf("clipping: |g| = %.4g, update norms %.4g (off), %.4g (0.01)%n", gradNorm, off, clippedSmall);
    assertThat(firstUpdateNorm(gradNorm / 4) / off).isCloseTo(0.25, within(0.005));
    assertThat(firstUpdateNorm(gradNorm / 2) / off).isCloseTo(0.5, within(0.01));
    assertThat(firstUpdateNorm(gradNorm * 4) / off).as("a threshold above the norm changes nothing")
        .isCloseTo(1.0, within(1e-6));
  }

  private static double firstUpdateNorm(double maxGradNorm) {
    TrainConfig config = new TrainConfig(1, 1e4, 0, 0, TrainConfig.Schedule.CONSTANT, maxGradNorm, 1, 0.9, 0.999, 1e4, 3);
    PeftModel pm = model();
    pm.addAdapter("default", new AdapterSpec(LoraConfig.of(2, 4), Targets.allLinear()), 1);
    perturbB(pm, "default");
    Map<String, INDArray> before = new LinkedHashMap<>();
    pm.adapter("default").sites().forEach((s, a) -> a.parameters().forEach((k, v) -> before.put(s + k, v.dup())));
    new Trainer(config).train(pm, Objective.meanSquaredError(), PeftModelLifecycleTest::batch);
    double sq = 0;
    for (var e : pm.adapter("default").sites().entrySet()) {
      for (var p : e.getValue().parameters().entrySet()) {
        double n = p.getValue().sub(before.get(e.getKey() + p.getKey())).norm2Number().doubleValue();
        sq += n * n;
      }
    }
    return Math.sqrt(sq);
  }

  @Test
  void eachAdapterTrainsItsOwnCopyOfModulesToSaveAndTheOriginalComesBack(@TempDir Path tmp) throws Exception {
    PeftModel pm = model();
    INDArray original = pm.output(x());
    INDArray head = pm.base().weights().get("head.weight").dup();
    Targets t = Targets.of("layers.0").withModulesToSave("head");
    pm.addAdapter("a", new AdapterSpec(LoraConfig.of(2, 4), t), 1);
    pm.addAdapter("b", new AdapterSpec(LoraConfig.of(2, 4), t), 2);
    assertThat(pm.adapter("a").modulesToSave()).containsOnlyKeys("head.weight", "head.bias");
    assertThat(pm.trainableBase()).containsExactlyInAnyOrder("head.weight", "head.bias");
    long headParams = pm.base().weights().get("head.weight").length() + pm.base().weights().get("head.bias").length();
    long siteParams = pm.adapter("a").trainableParameters() - headParams;
    assertThat(pm.trainableParameters()).as("the head copy counted once").isEqualTo(siteParams + headParams);
    new Trainer(TrainConfig.of(3, 1e-2, 1)).train(pm, Objective.meanSquaredError(), PeftModelLifecycleTest::batch);
    INDArray trainedA = pm.output(x());

    assertThat(pm.base().weights().get("head.weight")).as("the base head is untouched").isEqualTo(head);
    assertThat(pm.adapter("a").modulesToSave().get("head.weight")).isNotEqualTo(head);
    assertThat(pm.adapter("b").modulesToSave().get("head.weight")).as("b's copy").isEqualTo(head);
    assertThat(pm.baseTensor("head.weight")).isSameAs(pm.adapter("a").modulesToSave().get("head.weight"));
    pm.disableAdapters();
    assertThat(pm.output(x()).equalsWithEps(original, 1e-6)).as("disabled: the original head").isTrue();
    pm.enableAdapters();
    pm.setActive("a", "b");
    assertThatThrownBy(() -> pm.output(x())).hasMessageContaining("both hold a modules_to_save copy of 'head.weight'");

    pm.setActive("a");
    Path dir = tmp.resolve("a");
    PeftAdapters.save(pm, "a", dir);
    PeftModel fresh = model();
    PeftAdapters.load(fresh, dir, "a");
    assertThat(fresh.output(x()).equalsWithEps(trainedA, 1e-6)).as("saved and loaded").isTrue();
    assertThat(fresh.base().weights().get("head.weight")).as("loading leaves the base head").isEqualTo(head);
    INDArray merged = fresh.mergeAndUnload().weights().get("head.weight");
    assertThat(merged).as("merge_and_unload takes the active copy")
        .isEqualTo(fresh.adapter("a").modulesToSave().get("head.weight"));

    pm.deleteAdapter("a");
    pm.deleteAdapter("b");
    assertThat(pm.output(x()).equalsWithEps(original, 1e-6)).as("deleted: the original head").isTrue();
  }
}
