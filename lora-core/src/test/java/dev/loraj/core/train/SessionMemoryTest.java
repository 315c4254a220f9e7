package dev.loraj.core.train;

import static org.assertj.core.api.Assertions.assertThat;

import dev.loraj.core.adapter.AdapterRegistry;
import dev.loraj.core.adapter.AdapterSpec;
import dev.loraj.core.engine.MemoryMonitor;
import dev.loraj.core.lora.Fill;
import dev.loraj.core.lora.LoraConfig;
import dev.loraj.core.model.MlpModel;
import dev.loraj.core.model.PeftModel;
import dev.loraj.core.model.Targets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.autodiff.samediff.internal.InferenceSession;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Live native memory after a full collection must not carry a step's (or a finished training
 * run's) arrays: SameDiff M2.1's session keeps every op output of its last run reachable unless
 * the trainer releases it (Graphs.releaseSessionState), and the gradient run's arrays are fresh
 * allocations each step that the trainer closes (Graphs.closeGradientRunArrays). The MLP is wide and the batch large so
 * one step's activations (~2 MiB per [512, 1024] array, tens of them) dwarf the weights.
 */
class SessionMemoryTest {

  /** Activations of one step of this model: ~30 arrays of [512, 1024] floats, ~60 MiB. */
  private static final long ONE_STEP_RETAINED = 30L << 20;
  /** Slack for ND4J's shape-info and constant caches, which grow a little with new shapes. */
  private static final long SLACK = 6L << 20;

  static PeftModel model(boolean full) {
    MlpModel base = MlpModel.random(List.of(256, 1024, 1024, 16), MlpModel.Activation.TANH, true, 4);
    PeftModel pm = new PeftModel(base, AdapterRegistry.discover());
    if (full) {
      pm.addTrainableBase(base.weights().keySet());
    } else {
      pm.addAdapter("default", new AdapterSpec(LoraConfig.of(4, 8), Targets.allLinear()), 9);
    }
    return pm;
  }

  static Map<String, INDArray> batch(long step) {
    SplittableRandom r = new SplittableRandom(step * 101);
    return Map.of("x", Fill.normal(new long[] {512, 256}, 1, r), "targets", Fill.normal(new long[] {512, 16}, 1, r));
  }

  @Test
  void sessionsRetainNoArraysAfterAStep() {
    Trainer.Session s = new Trainer(TrainConfig.of(2, 1e-3, 1)).start(model(false), Objective.meanSquaredError());
    s.step(1, (step, micro) -> batch(step));
    SameDiff sd = s.graph();
    List<InferenceSession> sessions = new ArrayList<>(sd.getSessions().values());
    sessions.addAll(sd.getFunction("grad").getSessions().values());
    assertThat(sessions).isNotEmpty().allSatisfy(x -> assertThat(x.getNodeValueOutputs()).isEmpty());
  }

  @Test
  void liveBytesAfterGcDoNotGrowAcrossStepsOrRuns() {
    for (boolean full : new boolean[] {false, true}) {
      long beforeRun = MemoryMonitor.offHeapBytesAfterGc();
      PeftModel pm = model(full);
      Trainer.Session s = new Trainer(TrainConfig.of(4, 1e-3, 1)).start(pm, Objective.meanSquaredError());
      long started = MemoryMonitor.offHeapBytesAfterGc(); // weights, Adam state
      List<Long> afterStep = new ArrayList<>();
      List<Long> beforeGc = new ArrayList<>();
      for (int step = 1; step <= 4; step++) {
        s.step(step, (st, micro) -> batch(st));
        beforeGc.add(MemoryMonitor.offHeapBytes());
        afterStep.add(MemoryMonitor.offHeapBytesAfterGc());
      }
      if (dev.loraj.core.graph.Graphs.reusesGradientArrays()) {
        // step 1: the gradient session's array cache keeps one step's buffers for the next step;
        // from step 2 on the replay plan holds its buffers instead (its peak working set): no
        // more than about one step's activations at any time, and flat from step 2 on
        assertThat(afterStep).as("live after GC per step (full=%s), started at %d", full, started)
            .allSatisfy(b -> assertThat(b).isLessThan(started + 2 * ONE_STEP_RETAINED));
        long second = afterStep.get(1);
        assertThat(afterStep.subList(1, afterStep.size()))
            .as("live after GC per step (full=%s), after step 2 %d", full, second)
            .allSatisfy(b -> assertThat(b).isLessThan(second + SLACK));
      } else {
        assertThat(afterStep).as("live after GC per step (full=%s), started at %d", full, started)
            .allSatisfy(b -> assertThat(b).isLessThan(started + SLACK));
      }
      // the step closes its gradient run's arrays itself: no garbage is left for the collector
      if (dev.loraj.core.graph.Graphs.closesGradientRunArrays()) { // else the GC frees them in batches
        assertThat(beforeGc).as("live before GC per step (full=%s), started at %d", full, started)
            .allSatisfy(b -> assertThat(b).isLessThan(started + SLACK));
      }
      INDArray out = pm.output(Map.of("x", batch(9).get("x")));
      assertThat(out.shape()).containsExactly(512, 16);
      long withInference = MemoryMonitor.offHeapBytesAfterGc();
      // the inference graph holds its own copy of nothing but its constants' views; one output
      assertThat(withInference).isLessThan(afterStep.get(afterStep.size() - 1) + ONE_STEP_RETAINED / 4);
      s = null;
      pm = null;
      out = null;
      long afterRun = MemoryMonitor.offHeapBytesAfterGc();
      assertThat(afterRun).as("nothing of a finished run stays reachable (full=%s)", full)
          .isLessThan(beforeRun + SLACK);
    }
  }
}
