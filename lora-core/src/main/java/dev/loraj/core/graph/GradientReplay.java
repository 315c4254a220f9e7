package dev.loraj.core.graph;

import dev.loraj.core.engine.Engine;
import dev.loraj.core.graph.ReplayRecorder.Recorded;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicLong;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.OpContext;

/**
 * Replays a SameDiff graph's ops without SameDiff's session (a training step's gradient function,
 * {@link Graphs#gradientsAndOutputs}, or an inference graph, {@link Graphs#output}): the op list
 * of one recorded run, each op with its own prepared {@link OpContext}, executed in order on
 * arrays allocated once.
 *
 * <p>Why: a SameDiff run spends, per op, Java time on dependency tracking, variable lookups, a
 * native output-shape call and array-cache bookkeeping before the kernel starts: 9% of a BERT
 * LoRA step (batch 8 x 128) and 14% of a Llama step fell between ops (docs/benchmarks.md), with
 * ~900 to ~1,900 ops per step. The graph, the shapes and therefore every one of those decisions
 * are the same from one step to the next, so they are made once. The kernels, their order, their
 * arguments and their inputs are exactly those of SameDiff's run, so results are bit-identical
 * ({@code GradientReplayTest}).
 *
 * <p>How: the first run with a given set of placeholder shapes goes through SameDiff as usual;
 * the second is recorded (a listener sees every op's context: inputs, outputs, arguments) and
 * turned into a plan; from the third on the plan runs. Every op input is resolved by variable
 * name and checked against the array the recorded run passed: a variable or constant (the
 * graph's own array, checked for identity at every replay, so a replaced parameter array makes
 * the plan rebuild), a placeholder (the caller's array of this step) or an earlier op's output.
 * Intermediate arrays are allocated once per plan and shared between variables whose lifetimes
 * do not overlap; requested outputs get fresh arrays at every replay (the caller owns, and the
 * trainer closes, them). A graph with an op the plan does not model (control flow, tensor arrays,
 * assertions, ...) or an input that does not check out is left to SameDiff for good.
 *
 * <p>{@code -Dloraj.replay=false} turns it off (before/after runs), and the portable engine does
 * not use it ({@link Engine#replay()}). Graphs with listeners attached
 * (the profiler of {@code lora bench step --profile}) always run through SameDiff.
 *
 * <p>The parts: {@link ReplayRecorder} records a run, {@link ReplayPlanBuilder} turns the
 * recording into a plan (slots, checks, shared buffers), {@link ReplayPlan} runs it.
 */
final class GradientReplay {
  /** Tests switch this off for before/after comparisons; {@link #enabled()} is what counts. */
  static volatile boolean enabled = true;

  /** Whether runs may replay: the engine replays ({@link Engine#replay()}) and no test turned it off. */
  static boolean enabled() {
    return enabled && Engine.current().replay();
  }

  /** Replayed runs so far (all graphs, all threads): tests check that the plan was used. */
  static final AtomicLong REPLAYS = new AtomicLong();

  /** Requested names and the placeholders' shapes and types, by thread. */
  record Key(long thread, List<String> names, Map<String, String> placeholders) {
    static Key of(List<String> names, Map<String, INDArray> ph) {
      Map<String, String> shapes = new TreeMap<>();
      ph.forEach((k, v) -> shapes.put(k, v.dataType() + Arrays.toString(v.shape()) + v.ordering()));
      return new Key(Thread.currentThread().getId(), List.copyOf(names), shapes);
    }
  }

  /** Why a recorded run cannot become a plan. */
  static final class Unsupported extends Exception {
    Unsupported(String message) {
      super(message);
    }
  }

  /**
   * Builds the plan of a recorded run of {@code gradFn} (any graph): {@code ph} are the
   * placeholders it ran with, {@code names} the outputs it returned.
   */
  static ReplayPlan build(SameDiff gradFn, List<Recorded> ops, Map<String, INDArray> ph, List<String> names)
      throws Unsupported {
    return new ReplayPlanBuilder(gradFn, ph, names).build(ops);
  }
}
