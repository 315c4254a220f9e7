package dev.loraj.core.graph;

import java.io.OutputStream;
import java.io.PrintStream;
import java.lang.reflect.Method;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Supplier;
import org.nd4j.autodiff.listeners.Operation;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.autodiff.samediff.VariableType;
import org.nd4j.autodiff.samediff.api.OutAndGrad;
import org.nd4j.autodiff.samediff.array.SingleThreadArrayHolder;
import org.nd4j.autodiff.samediff.config.ExecutionResult;
import org.nd4j.autodiff.samediff.config.SDValue;
import org.nd4j.autodiff.samediff.internal.InferenceSession;
import org.nd4j.autodiff.samediff.internal.SessionMemMgr;
import org.nd4j.autodiff.samediff.internal.memory.ArrayCacheMemoryMgr;
import org.nd4j.linalg.api.buffer.DataBuffer;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/** SameDiff set-up and execution with the engine settings of docs/engine.md. */
public final class Graphs {
  private Graphs() {}

  private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(Graphs.class);

  private static final Object STDOUT_LOCK = new Object();

  /**
   * A SameDiff whose constants and variables are stored once: the default holders keep an
   * extra copy of every array, doubling the memory of the frozen base.
   */
  public static SameDiff newSameDiff() {
    SameDiff sd = SameDiff.create();
    sd.setArrayHolders(new SingleThreadArrayHolder(), new SingleThreadArrayHolder(), false);
    return sd;
  }

  /**
   * Runs the graph and returns one output (detached from any workspace); the session's references
   * to the run's other arrays are dropped ({@link #releaseSessionState}).
   */
  public static INDArray output(SameDiff sd, Map<String, INDArray> placeholders, String output) {
    return output(sd, placeholders, output, null);
  }

  /**
   * As {@link #output(SameDiff, Map, String)}; with a {@code replay} cache, runs from the third
   * with the same placeholder shapes on replay the recorded op list ({@link GradientReplay}).
   */
  public static INDArray output(SameDiff sd, Map<String, INDArray> placeholders, String output,
      ReplayCache replay) {
    placeholders = DropoutMask.withSeed(sd, placeholders);
    boolean replayable = replay != null && GradientReplay.enabled() && sd.getListeners().isEmpty();
    GradientReplay.Key key = replayable ? GradientReplay.Key.of(List.of(output), placeholders) : null;
    Object planOrMode = replayable ? replay.lookup(sd, key, false) : ReplayCache.Mode.PLAIN;
    if (planOrMode instanceof ReplayPlan plan) {
      return plan.run(placeholders, replay.timer()).get(output);
    }
    INDArray out;
    keepReleasedArrays(sd, !replayable || replay.unsupported() != null);
    if (planOrMode == ReplayCache.Mode.RECORD) {
      ReplayRecorder recorder = new ReplayRecorder();
      sd.setListeners(recorder);
      try {
        out = sd.output(placeholders, output).get(output);
      } finally {
        sd.setListeners(List.of());
      }
      store(replay, key, sd, null, recorder, placeholders, List.of(output));
    } else {
      out = sd.output(placeholders, output).get(output);
    }
    releaseSessionState(sd);
    return out;
  }

  /**
   * Builds the plan of a recorded run and keeps it (or why not) in {@code replay}; the run of a
   * gradient function ({@code forward}: its forward graph) recomputes the blocks
   * {@link ReplayCache#recomputeBlocks} names.
   */
  private static void store(ReplayCache replay, GradientReplay.Key key, SameDiff fn, SameDiff forward,
      ReplayRecorder recorder, Map<String, INDArray> placeholders, List<String> names) {
    // the session's cached arrays are of no further use once a plan serves the run: freed
    // before the plan allocates its own, so the two never coexist
    dropSessionCache(fn);
    try {
      List<ReplayRecorder.Recorded> ops = recorder.ops;
      List<Set<String>> blocks = replay.blocks();
      if (forward != null && blocks != null) {
        BlockRecompute.Result r = BlockRecompute.rewrite(ops, blocks, forward.getOps().keySet(), names,
            placeholders.keySet());
        ops = r.ops();
        replay.recomputed(r.blocks(), r.recomputedOps());
        if (r.blocks() == 0) {
          log.warn("gradient checkpointing: none of the {} blocks can be recomputed", blocks.size());
        }
      }
      replay.store(key, GradientReplay.build(fn, ops, placeholders, names), null);
      // the recorded run's arrays are freed, but glibc keeps their pages for reuse: without this
      // the replayed steps' resident set stays at the recorded run's size (Qwen2.5-0.5B QLoRA,
      // checkpointing, batch 1 x 256: 2.6 GB resident against a 1.0 GB ledger)
      dev.loraj.core.engine.MemoryMonitor.trimNativeHeap();
    } catch (GradientReplay.Unsupported e) {
      log.info("runs of this graph go through SameDiff's session: {}", e.getMessage());
      replay.store(key, null, e.getMessage());
    }
  }

  /**
   * Drops the calling thread's references to the arrays of the last execution of {@code sd} and
   * of its gradient function. Arrays the caller received stay valid; nothing is closed.
   *
   * <p>Why: ND4J 1.0.0-M2.1's {@code InferenceSession} (one per graph and thread) keeps every op
   * output of its last run reachable until the next run starts, in two places: the
   * {@code nodeValueOutputs} map and the array-use tracker's list of arrays whose consumers have
   * all run ({@code allSatisfied}). For a training step that is the whole forward and backward
   * graph: measured on all-MiniLM-L6-v2, batch 16 x 32 tokens, ~850 MiB in ~950 arrays live after
   * a full collection (LoRA and full fine-tuning alike), on top of 173 MiB of weights; during the
   * next step the old and new arrays coexist. Both are per-run state that the session resets at
   * the start of its next run (the tracker is cleared, the map's entries are overwritten), so
   * clearing them after a run changes no result.
   */
  public static void releaseSessionState(SameDiff sd) {
    clearOwnSession(sd);
    SameDiff grad = sd.getFunction(GRAD_FUNCTION);
    if (grad != null) {
      clearOwnSession(grad);
    }
  }

  /**
   * Drops the session's references to the arrays the calling thread's last run of {@code sd}'s
   * gradient function produced; with {@code -Dloraj.closeGradientArrays=true} (see
   * {@link #CLOSE_GRADIENT_ARRAYS}) it first closes them. Closing: it closes the arrays it
   * left to the garbage collector, then drops the session's references
   * ({@link #releaseSessionState}). An array is closed only if it owns its buffer and that buffer
   * is not shared with a variable or constant of either graph, nor with an array of
   * {@code keep} (the placeholders the caller passed, outputs it still uses).
   *
   * <p>Why: with ND4J's own {@code calculateGradientsAndOutputs} ({@code -Dloraj.gradCache=false})
   * every op output of a step is a fresh native allocation freed only when the JVM collects it:
   * ~0.85 GiB per MiniLM step at batch 16 x 32, which NativeMemoryGuard otherwise had to collect
   * after every step. With the gradient cache on (the default) the arrays are reused instead and
   * closing them would only defeat the cache.
   */
  public static void closeGradientRunArrays(SameDiff sd, Collection<INDArray> keep) {
    if (!closesGradientRunArrays()) {
      releaseSessionState(sd);
      return;
    }
    SameDiff grad = sd.getFunction(GRAD_FUNCTION);
    Set<Long> shared = new HashSet<>();
    for (SameDiff g : grad == null ? List.of(sd) : List.of(sd, grad)) {
      for (SDVariable v : g.variables()) {
        VariableType t = v.getVariableType();
        if (t == VariableType.VARIABLE
            || t == VariableType.CONSTANT) {
          INDArray a = g.getArrForVarName(v.name());
          if (a != null) {
            shared.add(bufferAddress(a));
          }
        }
      }
    }
    for (INDArray a : keep) {
      if (a != null && !a.wasClosed()) {
        shared.add(bufferAddress(a));
      }
    }
    Set<Long> closed = new HashSet<>();
    for (SameDiff g : grad == null ? List.of(sd) : List.of(sd, grad)) {
      InferenceSession s = g.getSessions().get(Thread.currentThread().getId());
      if (s == null) {
        continue;
      }
      for (SDValue v : s.getNodeValueOutputs().values()) {
        for (INDArray a : arraysOf(v)) {
          if (a == null || a.wasClosed() || a.isView() || !a.closeable()) {
            continue;
          }
          long addr = bufferAddress(a);
          if (addr != 0 && !shared.contains(addr) && closed.add(addr)) {
            a.close();
          }
        }
      }
    }
    releaseSessionState(sd);
  }

  /**
   * Closing the gradient run's arrays at once ({@code -Dloraj.closeGradientArrays=true}) keeps
   * native memory at the live level between steps, but costs the step the frees and the fresh
   * pages of the next one: BERT LoRA step (batch 8 x 128) 1.01-1.05 s -> 1.51-1.55 s, system time
   * 2.5 -> 6.8 s over 10 steps. By default the arrays are only made unreachable
   * ({@link #releaseSessionState}) and {@code NativeMemoryGuard} collects them in batches, freed by
   * ND4J's deallocator thread off the step's critical path.
   */
  static final boolean CLOSE_GRADIENT_ARRAYS = "true".equals(System.getProperty("loraj.closeGradientArrays"));

  /** Closing applies only with the gradient cache off ({@code -Dloraj.gradCache=false}). */
  public static boolean closesGradientRunArrays() {
    return CLOSE_GRADIENT_ARRAYS && !GRAD_CACHE;
  }

  private static List<INDArray> arraysOf(SDValue v) {
    if (v == null || v.getSdValueType() == null) {
      return List.of();
    }
    return switch (v.getSdValueType()) {
      case TENSOR -> Collections.singletonList(v.getTensorValue());
      case LIST -> v.getListValue() == null ? List.of() : v.getListValue();
      default -> List.of(); // dictionaries: left to the collector
    };
  }

  /** Native address of the allocation behind {@code a} (the original buffer of a view). */
  private static long bufferAddress(INDArray a) {
    DataBuffer d = a.data();
    if (d == null) {
      return 0;
    }
    DataBuffer root = d.originalDataBuffer() != null ? d.originalDataBuffer() : d;
    return root.address();
  }

  /**
   * Loss outputs and parameter gradients of one forward and backward pass: what
   * {@code SameDiff.calculateGradientsAndOutputs} computes, but with the gradient session's array
   * cache on ({@code -Dloraj.gradCache=false}: ND4J's own call, for before/after runs).
   *
   * <p>Why: ND4J 1.0.0-M2.1's {@code calculateGradientsAndOutputs} calls
   * {@code setEnableCache(false)} on the gradient function, so every op output of every step is a
   * fresh native allocation (zero-filled, page-faulted) that only the garbage collector frees. With
   * the cache on, the session hands each array it no longer needs to its
   * {@code ArrayCacheMemoryMgr} and the next op of the same shape reuses it, within the step and
   * across steps (bounded by a quarter of JavaCPP's max bytes). Requested outputs (the loss and the
   * gradients returned here) are never recycled. Measured, {@code lora bench step}, batch 8 x 128,
   * r 8, one thread: BERT LoRA 1047 -> 911 ms, RSS 2.4 -> 1.0 GB; Llama LoRA 3337 -> 2266 ms
   * (system time 16.0 -> 3.1 s: a Llama step had been faulting in ~1.3 GB of fresh [1024, 32000]
   * arrays); losses and gradients unchanged (the whole test suite, PEFT goldens included).
   *
   * <p>A parameter the loss does not reach has no gradient variable and no entry in the result's
   * gradients (as in ND4J's call); callers that must train every parameter check that up front
   * ({@code Trainer} rejects such adapter parameters when its session starts).
   */
  public static OutAndGrad gradientsAndOutputs(SameDiff sd, Map<String, INDArray> placeholders,
      List<String> outputs, List<String> params) {
    return gradientsAndOutputs(sd, placeholders, outputs, params, null);
  }

  /**
   * As {@link #gradientsAndOutputs(SameDiff, Map, List, List)}; with a {@code replay} cache, runs
   * from the third of the same placeholder shapes on replay the recorded op list
   * ({@link GradientReplay}; {@code -Dloraj.replay=false} turns it off). Graphs with listeners
   * always run through SameDiff.
   */
  public static OutAndGrad gradientsAndOutputs(SameDiff sd, Map<String, INDArray> placeholders,
      List<String> outputs, List<String> params, ReplayCache replay) {
    placeholders = DropoutMask.withSeed(sd, placeholders);
    if (!GRAD_CACHE) {
      return sd.calculateGradientsAndOutputs(placeholders, outputs, params);
    }
    if (sd.getFunction(GRAD_FUNCTION) == null) {
      createGradFunction(sd, List.of());
    }
    List<String> names = new ArrayList<>(outputs);
    Map<String, String> gradName = new LinkedHashMap<>();
    for (String p : params) {
      SDVariable g = sd.getVariable(p).getGradient();
      if (g != null) {
        gradName.put(p, g.name());
        names.add(g.name());
      }
    }
    SameDiff gradFn = sd.getFunction(GRAD_FUNCTION);
    gradFn.setEnableCache(true);
    Map<String, INDArray> all;
    boolean replayable = replay != null && GradientReplay.enabled() && sd.getListeners().isEmpty();
    GradientReplay.Key key = replayable ? GradientReplay.Key.of(names, placeholders) : null;
    Object planOrMode = replayable ? replay.lookup(gradFn, key, true) : ReplayCache.Mode.PLAIN;
    if (planOrMode == ReplayCache.Mode.SCRATCH) {
      planOrMode = recordOnScratch(replay, key, sd, gradFn, placeholders, names);
    }
    if (planOrMode instanceof ReplayPlan plan) {
      all = plan.run(placeholders, replay.timer());
    } else if (planOrMode == ReplayCache.Mode.RECORD) {
      keepReleasedArrays(gradFn, false);
      ReplayRecorder recorder = new ReplayRecorder();
      gradFn.setListeners(recorder);
      try {
        all = runGradientFunction(gradFn, placeholders, names);
      } finally {
        gradFn.setListeners(sd.getListeners());
      }
      store(replay, key, gradFn, sd, recorder, placeholders, names);
    } else {
      keepReleasedArrays(gradFn, !replayable || replay.unsupported() != null);
      gradFn.setListeners(sd.getListeners());
      all = runGradientFunction(gradFn, placeholders, names);
    }
    Map<String, INDArray> outs = new HashMap<>();
    for (String o : outputs) {
      outs.put(o, all.get(o));
    }
    Map<String, INDArray> grads = new HashMap<>();
    for (Map.Entry<String, String> e : gradName.entrySet()) {
      grads.put(e.getKey(), all.get(e.getValue()));
    }
    return new OutAndGrad(outs, grads);
  }

  /**
   * Records a run of {@code gradFn} on scratch arrays ({@link ScratchMemoryMgr}) and builds its
   * plan; returns the plan, or the mode SameDiff runs this step in when there is none. The run's
   * values are garbage and thrown away: the plan computes the step. A run that fails on scratch
   * arrays turns scratch recording off for the cache and leaves the step to SameDiff.
   */
  private static Object recordOnScratch(ReplayCache replay, GradientReplay.Key key, SameDiff sd,
      SameDiff gradFn, Map<String, INDArray> placeholders, List<String> names) {
    ReplayRecorder recorder = new ReplayRecorder();
    // the run draws dropout masks from the global RNG; the plan must draw the same ones next
    org.nd4j.linalg.api.rng.Random rng = Nd4j.getRandom();
    long root = rng.rootState();
    long node = rng.nodeState();
    InferenceSession s = session(gradFn);
    s.getMmgr().close();
    s.setMmgr(new ScratchMemoryMgr());
    gradFn.setListeners(recorder);
    try {
      for (INDArray a : runGradientFunction(gradFn, placeholders, names).values()) {
        if (a != null && a.closeable() && !a.wasClosed()) {
          a.close();
        }
      }
    } catch (RuntimeException e) {
      log.info("recording on scratch arrays failed, so plans are recorded from computed runs: {}",
          e.toString());
      replay.scratchFailed();
      return ReplayCache.Mode.PLAIN;
    } finally {
      gradFn.setListeners(sd.getListeners());
      dropSessionCache(gradFn); // closes the scratch manager: the windows are not read again
      rng.setStates(root, node);
    }
    store(replay, key, gradFn, sd, recorder, placeholders, names);
    ReplayPlan plan = replay.plan(key);
    return plan != null ? plan : ReplayCache.Mode.PLAIN;
  }

  /** The calling thread's session of {@code fn}, created if it has none yet. */
  private static InferenceSession session(SameDiff fn) {
    long thread = Thread.currentThread().getId();
    return fn.getSessions().computeIfAbsent(thread, t -> new InferenceSession(fn));
  }

  private static Map<String, INDArray> runGradientFunction(SameDiff gradFn,
      Map<String, INDArray> placeholders, List<String> names) {
    ExecutionResult r;
    try {
      r = (ExecutionResult) BATCH_OUTPUT_HELPER.invoke(gradFn, placeholders, null, Operation.TRAINING,
          names.toArray(String[]::new));
    } catch (ReflectiveOperationException e) {
      throw new IllegalStateException("SameDiff.batchOutputHelper", e);
    }
    Map<String, INDArray> all = new HashMap<>();
    if (r.hasValues()) {
      r.getValueOutputs().forEach((k, v) -> all.put(k, v.getTensorValue()));
    } else if (r.hasSingle()) {
      all.putAll(ExecutionResult.unpack(r.getOutputs()));
    }
    return all;
  }

  /**
   * Closes the arrays the calling thread's session of {@code gradFn} keeps for reuse: once a
   * replay plan serves the run, the session's cache only holds memory.
   */
  private static void dropSessionCache(SameDiff gradFn) {
    InferenceSession s = gradFn.getSessions().get(Thread.currentThread().getId());
    if (s != null) {
      s.getNodeValueOutputs().clear();
      s.getArrayUseTracker().clear();
      s.getMmgr().close();
      s.setMmgr(new ArrayCacheMemoryMgr());
    }
  }

  /**
   * Chooses what the calling thread's session of {@code fn} does with an array once every op
   * that reads it has run: keeps it for reuse by later runs ({@code keep}, ND4J's default) or
   * frees it at once.
   *
   * <p>Why: ND4J 1.0.0-M2.1's {@code ArrayCacheMemoryMgr} keeps released arrays up to a quarter
   * of JavaCPP's byte limit (the JVM's -Xmx unless set: 1.5 GB at -Xmx6g) and serves later
   * allocations of the same length from them. That pays off for a graph SameDiff runs at every
   * step. A graph that will be replayed ({@link GradientReplay}) runs through the session only
   * twice, and there the cache was memory that the step's live arrays and, in the recorded run,
   * the plan's new arrays came on top of: Qwen2.5-0.5B's LoRA step (batch 1 x 256) peaked
   * 3.6 GB above the loaded model in its first run against 1.9 GB of activations.
   */
  private static void keepReleasedArrays(SameDiff fn, boolean keep) {
    long thread = Thread.currentThread().getId();
    InferenceSession s = fn.getSessions().get(thread);
    if (s == null) {
      if (keep) {
        return; // the session SameDiff creates keeps them
      }
      s = new InferenceSession(fn);
      fn.getSessions().put(thread, s);
    }
    SessionMemMgr current = s.getMmgr();
    boolean keeps = !(current instanceof ArrayCacheMemoryMgr m) || m.isEnableCache();
    if (keeps != keep) {
      current.close(); // what the old manager holds is released: no op reads it again
      ArrayCacheMemoryMgr next = new ArrayCacheMemoryMgr();
      next.setEnableCache(keep);
      s.setMmgr(next);
    }
  }

  static final boolean GRAD_CACHE = !"false".equals(System.getProperty("loraj.gradCache"));

  /** Whether training steps reuse the gradient run's arrays ({@link #gradientsAndOutputs}). */
  public static boolean reusesGradientArrays() {
    return GRAD_CACHE;
  }

  private static final Method BATCH_OUTPUT_HELPER = batchOutputHelper();

  private static Method batchOutputHelper() {
    try {
      Method m = SameDiff.class.getDeclaredMethod("batchOutputHelper", Map.class, List.class,
          Operation.class, String[].class);
      m.setAccessible(true);
      return m;
    } catch (NoSuchMethodException e) {
      throw new ExceptionInInitializerError(e);
    }
  }

  /** The name SameDiff gives the gradient function ({@code SameDiff.GRAD_FN_KEY}, protected). */
  private static final String GRAD_FUNCTION = "grad";

  private static void clearOwnSession(SameDiff sd) {
    InferenceSession s = sd.getSessions().get(Thread.currentThread().getId());
    if (s != null) {
      s.getNodeValueOutputs().clear();
      s.getArrayUseTracker().clear();
    }
  }

  /**
   * Runs {@code action} with System.out silenced: SameDiff M2.1 prints "Added differentiated op"
   * for every op when it builds a gradient function (a hard-coded println).
   */
  public static <T> T quietly(Supplier<T> action) {
    synchronized (STDOUT_LOCK) {
      PrintStream original = System.out;
      System.setOut(new PrintStream(OutputStream.nullOutputStream()));
      try {
        return action.get();
      } finally {
        System.setOut(original);
      }
    }
  }

  /** Creates the gradient function (quietly) for the given placeholders' graph. */
  public static void createGradFunction(SameDiff sd, Collection<String> alsoPlaceholders) {
    quietly(() -> {
      if (alsoPlaceholders.isEmpty()) {
        sd.createGradFunction();
      } else {
        sd.createGradFunction(alsoPlaceholders.toArray(String[]::new));
      }
      return null;
    });
  }

  /**
   * Inverted dropout, as {@code torch.nn.Dropout(p)} in training: each entry of {@code x} is zeroed
   * with probability {@code p} and the others are scaled by {@code 1 / (1 - p)}; the gradient is
   * {@code dy * mask}. The mask ({@link DropoutMask}) is drawn from ND4J's global RNG (seeded by
   * the trainer), a new one per run. ND4J 1.0.0-M2.1's {@code sd.nn().dropout} cannot be trained
   * through (its op has no gradient) and does not rescale the kept entries.
   */
  public static SDVariable dropout(SameDiff sd, SDVariable x, double p) {
    if (!(p >= 0 && p < 1)) {
      throw new IllegalArgumentException("dropout = " + p + ": must be in [0, 1)");
    }
    return p == 0 ? x : x.mul(DropoutMask.like(sd, x, 1.0 - p));
  }

  public static boolean allFinite(INDArray a) {
    return !a.isNaN().any() && !a.isInfinite().any();
  }

  public static boolean isFinite(double v) {
    return !Double.isNaN(v) && !Double.isInfinite(v);
  }

  /** A float scalar. */
  public static INDArray scalar(double v) {
    return Nd4j.scalar((float) v);
  }
}
