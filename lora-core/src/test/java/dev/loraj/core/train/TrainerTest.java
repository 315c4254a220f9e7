package dev.loraj.core.train;

import dev.loraj.core.testing.ExactArrays;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.loraj.core.adapter.AdapterRegistry;
import dev.loraj.core.adapter.AdapterSpec;
import dev.loraj.core.checkpoint.CheckpointListener;
import dev.loraj.core.checkpoint.PeftAdapters;
import dev.loraj.core.lora.Fill;
import dev.loraj.core.lora.LoraAdapter;
import dev.loraj.core.lora.LoraConfig;
import dev.loraj.core.model.MlpModel;
import dev.loraj.core.model.PeftModel;
import dev.loraj.core.model.Targets;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

class TrainerTest {

  static PeftModel model() {
    MlpModel base = MlpModel.random(List.of(12, 16, 3), MlpModel.Activation.TANH, true, 4);
    PeftModel pm = new PeftModel(base, AdapterRegistry.discover());
    pm.addAdapter("default", new AdapterSpec(LoraConfig.of(4, 8), Targets.allLinear()), 9);
    return pm;
  }

  static Map<String, INDArray> batch(long step, int micro, int n) {
    SplittableRandom r = new SplittableRandom(step * 101 + micro);
    return Map.of("x", Fill.normal(new long[] {n, 12}, 1, r), "targets", Fill.normal(new long[] {n, 3}, 1, r));
  }

  static INDArray b(PeftModel pm) {
    return ((LoraAdapter) pm.adapter("default").sites().get("layers.0")).b();
  }

  @Test
  void sameSeedSameNumbers() {
    PeftModel p1 = model();
    PeftModel p2 = model();
    TrainResult r1 = new Trainer(TrainConfig.of(5, 1e-2, 3)).train(p1, Objective.meanSquaredError(), (s, m) -> batch(s, m, 8));
    TrainResult r2 = new Trainer(TrainConfig.of(5, 1e-2, 3)).train(p2, Objective.meanSquaredError(), (s, m) -> batch(s, m, 8));
    assertThat(r1.losses()).isEqualTo(r2.losses());
    ExactArrays.assertBitIdentical(b(p1), b(p2), "B after two runs with the same seed");
  }

  @Test
  void accumulatingTwoHalvesEqualsOneFullBatch() {
    // one batch of 8 rows vs two micro-batches of 4 rows whose concatenation is that batch
    PeftModel full = model();
    PeftModel acc = model();
    Map<String, INDArray> whole = batch(1, 0, 8);
    new Trainer(TrainConfig.of(1, 1e-2, 1)).train(full, Objective.meanSquaredError(), (s, m) -> whole);
    new Trainer(TrainConfig.of(1, 1e-2, 1).withAccumulation(2)).train(acc, Objective.meanSquaredError(), (s, m) -> Map.of(
        "x", whole.get("x").get(org.nd4j.linalg.indexing.NDArrayIndex.interval(4 * m, 4 * m + 4), org.nd4j.linalg.indexing.NDArrayIndex.all()).dup(),
        "targets", whole.get("targets").get(org.nd4j.linalg.indexing.NDArrayIndex.interval(4 * m, 4 * m + 4), org.nd4j.linalg.indexing.NDArrayIndex.all()).dup()));
    assertThat(b(acc).equalsWithEps(b(full), 1e-6)).isTrue();
  }

  @Test
  void scheduleFollowsHuggingFace() {
    TrainConfig c = TrainConfig.of(10, 1.0, 0).withSchedule(TrainConfig.Schedule.LINEAR, 2);
    // HF lambda(t) at t = step - 1: warm-up t/2 for t < 2, then (10 - t) / 8
    assertThat(c.learningRateAt(1)).isEqualTo(0.0);
    assertThat(c.learningRateAt(2)).isEqualTo(0.5);
    assertThat(c.learningRateAt(3)).isEqualTo(1.0);
    assertThat(c.learningRateAt(10)).isEqualTo(0.125);
    TrainConfig cos = TrainConfig.of(10, 1.0, 0).withSchedule(TrainConfig.Schedule.COSINE, 0);
    assertThat(cos.learningRateAt(6)).isCloseTo(0.5, org.assertj.core.data.Offset.offset(1e-12));
  }

  @Test
  void nonFiniteLossStopsAndKeepsTheLastGoodCheckpoint(@TempDir Path tmp) throws Exception {
    PeftModel pm = model();
    Path ckpt = tmp.resolve("ckpt");
    CheckpointListener saver = new CheckpointListener(pm, "default", ckpt, 1);
    Trainer trainer = new Trainer(TrainConfig.of(10, 1e-2, 1)).listen(saver);
    assertThatThrownBy(() -> trainer.train(pm, Objective.meanSquaredError(), (s, m) -> {
      Map<String, INDArray> b = batch(s, m, 8);
      if (s == 4) {
        b.get("x").putScalar(0, 0, Double.NaN);
      }
      return b;
    })).isInstanceOf(NonFiniteLossException.class).hasMessageContaining("training stopped at step 4");
    assertThat(saver.lastSavedStep()).isEqualTo(3);
    // the model still holds step 3's parameters, which is what the checkpoint holds
    PeftModel reloaded = new PeftModel(MlpModel.random(List.of(12, 16, 3), MlpModel.Activation.TANH, true, 4), AdapterRegistry.discover());
    PeftAdapters.load(reloaded, ckpt, "default");
    ExactArrays.assertBitIdentical(b(reloaded), b(pm), "B of the reloaded checkpoint");
    assertThat(org.nd4j.linalg.factory.Nd4j.getExecutioner().exec(new org.nd4j.linalg.api.ops.impl.reduce.bool.IsNaN(b(pm))).getDouble(0)).isZero();
  }

  /**
   * The two per-step hooks an adapter gets (ReLoRA uses both): afterStep may reset (keep 0) or
   * magnitude-prune (keep a fraction of) the Adam moments of its parameters, and
   * learningRateScale(step) scales the rate of that step.
   */
  @Test
  void adapterCanResetOptimizerStateAndScaleItsLearningRate() {
    PeftModel pm = new PeftModel(MlpModel.random(List.of(12, 16, 3), MlpModel.Activation.TANH, true, 4), AdapterRegistry.discover());
    var site = pm.base().linearSites().get(0);
    LoraConfig cfg = LoraConfig.of(4, 8);
    LoraAdapter ad = new LoraAdapter(site, cfg, cfg.scaling(), 0.0) {
      @Override
      public void afterStep(dev.loraj.core.adapter.StepContext c) {
        if (c.step() == 2) {
          c.resetOptimizerState(LoraAdapter.B, 0.0);
          c.resetOptimizerState(LoraAdapter.A, 0.25);
          assertThatThrownBy(() -> c.resetOptimizerState("nope", 0.0)).hasMessageContaining("'nope' is not a trained parameter");
          assertThatThrownBy(() -> c.resetOptimizerState(LoraAdapter.A, 1.5)).hasMessageContaining("keep_fraction = 1.5");
        }
      }

      @Override
      public double learningRateScale(long step) {
        return step == 3 ? 0.0 : 1.0;
      }
    };
    Fill.uniform(ad.a(), -0.3, 0.3, new SplittableRandom(1));
    pm.putAdapter("x", new AdapterSpec(cfg, Targets.of(site.path())), Map.of(site.path(), ad));
    Trainer.Session s = new Trainer(TrainConfig.of(4, 1e-2, 3)).start(pm, Objective.meanSquaredError());
    String varA = "x/" + site.path() + "/" + LoraAdapter.A;
    String varB = "x/" + site.path() + "/" + LoraAdapter.B;
    s.step(1, (st, m) -> batch(st, m, 8));
    s.step(2, (st, m) -> batch(st, m, 8));
    assertThat(s.optimizerState(varB).amaxNumber().doubleValue()).isEqualTo(0.0);
    float[] a = s.optimizerState(varA).toFloatVector();
    int n = a.length / 2;
    for (int half = 0; half < 2; half++) {
      int nonzero = 0;
      for (int i = 0; i < n; i++) {
        nonzero += a[half * n + i] != 0 ? 1 : 0;
      }
      assertThat(nonzero).as("moments %d of A kept", half).isEqualTo((int) Math.ceil(0.25 * n));
    }
    INDArray aBefore = ad.a().dup();
    INDArray bBefore = ad.b().dup();
    s.step(3, (st, m) -> batch(st, m, 8)); // rate scaled to 0: nothing moves
    ExactArrays.assertBitIdentical(ad.a(), aBefore, "A at learning rate 0");
    ExactArrays.assertBitIdentical(ad.b(), bBefore, "B at learning rate 0");
    s.step(4, (st, m) -> batch(st, m, 8));
    assertThat(ad.b().equals(bBefore)).isFalse();
    assertThatThrownBy(() -> s.optimizerState("missing")).hasMessageContaining("no trainable variable 'missing'");
  }

  /** LoRA with dropout (the random generator's position matters) on a model with a trained head. */
  static PeftModel dropoutModel() {
    MlpModel base = MlpModel.random(List.of(12, 16, 3), MlpModel.Activation.TANH, true, 4);
    PeftModel pm = new PeftModel(base, AdapterRegistry.discover());
    pm.addAdapter("default", new AdapterSpec(LoraConfig.of(4, 8).withDropout(0.3), Targets.allLinear()), 9);
    return pm;
  }

  @Test
  void aRunResumedFromItsCheckpointEqualsTheUninterruptedRunBitForBit(@TempDir Path dir) throws Exception {
    TrainConfig config = TrainConfig.of(7, 1e-2, 3);
    PeftModel whole = dropoutModel();
    TrainResult wholeResult = new Trainer(config).train(whole, Objective.meanSquaredError(), (s, m) -> batch(s, m, 8));

    // the first run dies after step 5 (its checkpoint is from step 4); a new process starts over
    PeftModel first = dropoutModel();
    Path ckpt = dir.resolve("ckpt");
    TrainListener dies = new TrainListener() {
      @Override
      public void onStep(long step, long total, double loss, double lr, double ms) {
        if (step == 5) {
          throw new IllegalStateException("killed");
        }
      }
    };
    assertThatThrownBy(() -> new Trainer(config).checkpoints(ckpt, 2).listen(dies)
        .train(first, Objective.meanSquaredError(), (s, m) -> batch(s, m, 8)))
        .hasMessage("killed");
    assertThat(TrainingCheckpoint.step(ckpt)).isEqualTo(4);
    Nd4j.getRandom().setSeed(12345); // whatever ran in between moved the generator
    PeftModel resumed = dropoutModel();
    TrainResult rest = new Trainer(config).checkpoints(ckpt, 2)
        .train(resumed, Objective.meanSquaredError(), (s, m) -> batch(s, m, 8));
    assertThat(rest.losses()).containsExactlyElementsOf(wholeResult.losses()); // steps 1-4 from the file
    assertThat(TrainingCheckpoint.step(ckpt)).isEqualTo(7);
    for (String site : whole.adapter("default").sites().keySet()) {
      whole.adapter("default").sites().get(site).parameters().forEach((k, w) -> {
        INDArray r = resumed.adapter("default").sites().get(site).parameters().get(k);
        assertThat(r.data().asFloat()).as(site + " " + k).containsExactly(w.data().asFloat());
      });
    }

    // another training config is refused, naming the file
    assertThatThrownBy(() -> new Trainer(TrainConfig.of(9, 1e-2, 3)).checkpoints(ckpt, 2)
        .train(dropoutModel(), Objective.meanSquaredError(), (s, m) -> batch(s, m, 8)))
        .hasMessageContaining("another training config");
  }
}
