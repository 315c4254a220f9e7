package dev.loraj.core.train;

import dev.loraj.core.adapter.Adapter;
import dev.loraj.core.adapter.StepContext;
import dev.loraj.core.engine.MemoryLedger;
import dev.loraj.core.engine.NativeMemoryGuard;
import dev.loraj.core.graph.Graphs;
import dev.loraj.core.graph.LmHeadCrossEntropy;
import dev.loraj.core.graph.ReplayCache;
import dev.loraj.core.model.PeftModel;
import dev.loraj.core.quant.QuantizedLinearOp;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.autodiff.samediff.VariableType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Trains the active adapters (and any trainable base tensors) of a {@link PeftModel}: gradients
 * from SameDiff, Adam from ND4J's updaters with decoupled weight decay (AdamW), per-parameter
 * learning-rate multipliers (LoRA+), schedule, clipping, accumulation, and the adapters'
 * regularization terms and after-step hooks.
 *
 * <p>Two per-step hooks let an adapter steer its own optimization (ReLoRA, arXiv 2307.05695):
 * {@link Adapter#learningRateScale(long)} scales its learning rate at each step (read before the
 * update), and {@link StepContext#optimizer()} lets {@link Adapter#afterStep} reset or
 * magnitude-prune the Adam moments of its parameters (see {@link Session#resetState}).
 *
 * <p>A non-finite loss or gradient stops training before the update is applied, so the
 * parameters stay at the last good step; listeners (checkpoints) have seen only good steps.
 *
 * <p>An adapter parameter that could never train is an error when the session starts, not a
 * silent omission: one its forward pass and regularization never use, and one the loss does not
 * reach (no gradient). A trainable base tensor the loss does not reach is legitimate (full
 * fine-tuning of a model whose head ignores a pooler): it is logged and not updated.
 */
public final class Trainer {
  private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(Trainer.class);

  private final TrainConfig config;
  private final List<TrainListener> listeners = new ArrayList<>();
  private Path checkpointDir;
  private int checkpointEvery;
  private boolean recompute;

  public Trainer(TrainConfig config) {
    this.config = config;
  }

  public Trainer listen(TrainListener l) {
    listeners.add(l);
    return this;
  }

  /**
   * Keeps a {@link TrainingCheckpoint} in {@code dir}, rewritten after every {@code every}-th
   * step and after the last; {@link #train} resumes from the one it finds there. A run killed at
   * any point then loses at most {@code every} steps, and its resumed parameters equal an
   * uninterrupted run's bit for bit.
   */
  public Trainer checkpoints(Path dir, int every) {
    if (every < 1) {
      throw new IllegalArgumentException("checkpoint every = " + every + ": must be >= 1");
    }
    this.checkpointDir = dir;
    this.checkpointEvery = every;
    return this;
  }

  /**
   * Gradient checkpointing per transformer block: with {@code on}, a training step keeps only
   * the values that cross block boundaries during its forward pass and recomputes each block's
   * forward in the backward pass, right before its gradients (the blocks the model family marks,
   * {@code ModelGraph#beginBlock}). Gradients, losses and parameters are bit-identical to training
   * without it; the step's activation memory falls to about one block's plus the boundaries, for
   * the price of a second forward pass through every block.
   *
   * <p>It applies to replayed steps ({@code GradientReplay}), and with it on every step is one:
   * the first step of each batch shape records the plan from a SameDiff run on scratch arrays
   * (one floating-point buffer per type shared by every intermediate, its values thrown away) and
   * then computes the step with the plan, so no step holds every block's activations. A graph
   * that is not replayed ({@link Session#replayUnsupported()}, the portable engine, a profiler
   * attached) runs every step through SameDiff's session, which holds them all.
   * {@link Session#recomputedBlocks()} says how many blocks the replayed step recomputes.
   */
  public Trainer checkpointing(boolean on) {
    this.recompute = on;
    return this;
  }

  /** Whether steps recompute block activations ({@link #checkpointing}). */
  public boolean checkpointing() {
    return recompute;
  }

  /**
   * Trains for the config's steps, or, with {@link #checkpoints} and a checkpoint on disk, for
   * the steps after it (the result still holds the losses and times of every step).
   */
  public TrainResult train(PeftModel model, Objective objective, Batches batches) {
    List<Double> losses = new ArrayList<>();
    List<Double> taskLosses = new ArrayList<>();
    List<Double> times = new ArrayList<>();
    if (checkpointDir != null) {
      TrainingCheckpoint.requireCapturable(model);
    }
    try (Session session = start(model, objective)) {
      long first = 1;
      if (checkpointDir != null && TrainingCheckpoint.exists(checkpointDir)) {
        TrainingCheckpoint.Restored r = restore(session);
        first = r.step() + 1;
        losses.addAll(r.losses());
        // a checkpoint holds the total loss only: the objective's share of its steps is unknown
        r.losses().forEach(l -> taskLosses.add(Double.NaN));
        times.addAll(r.stepMillis());
      }
      for (long step = first; step <= config.steps(); step++) {
        long t0 = System.nanoTime();
        double stepLoss = session.step(step, batches);
        double ms = (System.nanoTime() - t0) / 1e6;
        losses.add(stepLoss);
        taskLosses.add(session.lastTaskLoss());
        times.add(ms);
        if (checkpointDir != null && (step % checkpointEvery == 0 || step == config.steps())) {
          save(session, step, losses, times);
        }
        for (TrainListener l : listeners) {
          l.onStep(step, config.steps(), stepLoss, config.learningRateAt(step), ms);
        }
      }
      for (TrainListener l : listeners) {
        l.onFinish(session);
      }
      return new TrainResult(losses, taskLosses, times, session.optimizerStateBytes(), session.trainableParameters());
    }
  }

  private TrainingCheckpoint.Restored restore(Session session) {
    try {
      return TrainingCheckpoint.restore(checkpointDir, session, config);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read the training checkpoint in " + checkpointDir, e);
    }
  }

  private void save(Session session, long step, List<Double> losses, List<Double> times) {
    try {
      TrainingCheckpoint.save(checkpointDir, session, config, step, losses, times);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write the training checkpoint of step " + step
          + " to " + checkpointDir, e);
    }
  }

  /** Builds the training graph and optimizer state once; {@link Session#step} runs one step. */
  public Session start(PeftModel model, Objective objective) {
    return new Session(model, objective);
  }

  /** One training run's graph, optimizer state and step function (also used by benchmarks). */
  public final class Session implements AutoCloseable {
    private final PeftModel model;
    /** Replay plans of the session's gradient function (see Graphs.gradientsAndOutputs). */
    private final ReplayCache replay = new ReplayCache();
    private final SameDiff sd;
    private final String lossName;
    /** The objective's loss without the adapters' regularization; null when there is none. */
    private final String taskLossName;
    private double lastTaskLoss = Double.NaN;
    private final List<PeftModel.TrainableVar> vars;
    private final List<String> names;
    private final AdamW adam;
    /** Variable name of each adapter parameter by (adapter, site, key). */
    private final Map<List<String>, String> adapterVars = new HashMap<>();
    /** Bytes of the last step's gradients and of the copies adapters' after-step hooks read. */
    private long gradientBytes;
    private long gradientCopyBytes;

    private Session(PeftModel model, Objective objective) {
      this.model = model;
      Nd4j.getRandom().setSeed(config.seed()); // dropout masks; ND4J has no per-op RNG
      PeftModel.Built built = model.build(true, null);
      sd = built.sd();
      SDVariable loss = objective.loss(sd, built.modelOutput());
      SDVariable total = built.regularization() == null ? loss : loss.add(built.regularization());
      lossName = total.name();
      taskLossName = built.regularization() == null ? null : loss.name();
      sd.setLossVariables(lossName);
      vars = built.trainable();
      if (vars.isEmpty()) {
        throw new IllegalStateException("nothing to train: no active adapter and no trainable base tensor");
      }
      Graphs.createGradFunction(sd, List.of());
      checkEveryParameterTrains();
      if (recompute) {
        if (built.blocks().isEmpty()) {
          log.warn("gradient checkpointing has no effect: model family '{}' marks no blocks",
              model.base().family());
        }
        replay.recomputeBlocks(built.blocks());
      }
      names = vars.stream().map(PeftModel.TrainableVar::varName).toList();
      adam = new AdamW(config, vars);
      for (PeftModel.TrainableVar v : vars) {
        if (!v.isBase()) {
          adapterVars.put(List.of(v.adapter(), v.site(), v.key()), v.varName());
        }
      }
    }

    PeftModel model() {
      return model;
    }

    List<PeftModel.TrainableVar> trainable() {
      return vars;
    }

    /** The optimizer state array of {@code varName} itself (the updater's m and v are views). */
    INDArray liveOptimizerState(String varName) {
      return adam.state(varName);
    }

    /** See the class comment: adapter parameters that could never train are an error. */
    private void checkEveryParameterTrains() {
      List<String> problems = new ArrayList<>();
      Set<INDArray> inGraph = Collections.newSetFromMap(new IdentityHashMap<>());
      List<String> unreachedBase = new ArrayList<>();
      for (PeftModel.TrainableVar v : vars) {
        inGraph.add(v.array());
        if (sd.getVariable(v.varName()).getGradient() != null) {
          continue;
        }
        if (v.isBase()) {
          unreachedBase.add(v.varName());
        } else {
          problems.add("'" + v.key() + "' of adapter '" + v.adapter() + "' at " + v.site()
              + " has no gradient: the loss does not depend on it");
        }
      }
      if (!model.adaptersDisabled()) {
        for (String name : model.active()) {
          PeftModel.NamedAdapter na = model.adapter(name);
          if (na.merged()) {
            continue;
          }
          na.sites().forEach((site, ad) -> ad.parameters().forEach((key, arr) -> {
            if (!inGraph.contains(arr)) {
              problems.add("'" + key + "' of adapter '" + name + "' at " + site
                  + " is not used by the adapter's forward pass or regularization");
            }
          }));
        }
      }
      if (!problems.isEmpty()) {
        throw new IllegalStateException("adapter parameters that would never train: " + problems);
      }
      if (!unreachedBase.isEmpty()) {
        log.warn("trainable base tensors the loss does not reach are not updated: {}", unreachedBase);
      }
    }

    /** The training graph (loss and gradients), e.g. to attach SameDiff listeners for profiling. */
    public SameDiff graph() {
      return sd;
    }

    public long optimizerStateBytes() {
      return adam.stateBytes();
    }

    public long trainableParameters() {
      return vars.stream().mapToLong(v -> v.array().length()).sum();
    }

    /**
     * A copy of the optimizer state of trainable variable {@code varName} (see
     * {@link PeftModel.TrainableVar#varName()}): Adam's first moments then its second moments,
     * [1, 2n]. For tests and diagnostics.
     */
    public INDArray optimizerState(String varName) {
      INDArray s = adam.state(varName);
      if (s == null) {
        throw new IllegalArgumentException("no trainable variable '" + varName + "'; variables: " + names);
      }
      return s.dup();
    }

    /** Resets the Adam moments of {@code varName} ({@link AdamW#resetState}). */
    void resetState(String varName, double keepFraction) {
      adam.resetState(varName, keepFraction);
    }

    /**
     * Adds what the session holds to {@code ledger}: Adam's moments (optimizer), the last step's
     * gradients as the step held them (gradients), the replay plan's working arrays, the
     * dequantization buffers and the gradient copies after-step hooks read (activations), and the
     * graph's own constants that no other part reported (other: index vectors, identity matrices,
     * a dequantized weight DoRA's norm needs on a quantized base). Add the model's arrays first
     * ({@link PeftModel#addTo}) so that the graph's references to them count once, where they
     * belong.
     */
    public void addTo(MemoryLedger ledger) {
      ledger.addAll(MemoryLedger.Category.OPTIMIZER, adam.states());
      ledger.addCounted(MemoryLedger.Category.GRADIENTS, gradientBytes);
      replay.addTo(ledger, MemoryLedger.Category.ACTIVATIONS);
      QuantizedLinearOp.addBuffersTo(ledger);
      LmHeadCrossEntropy.addBuffersTo(ledger);
      ledger.addCounted(MemoryLedger.Category.ACTIVATIONS, gradientCopyBytes);
      for (SDVariable v : sd.variables()) {
        if (v.getVariableType() == VariableType.CONSTANT) {
          ledger.add(MemoryLedger.Category.OTHER, v.getArr());
        }
      }
    }

    /** Frees the replay plans' arrays (the session can still step: it records new plans). */
    @Override
    public void close() {
      replay.close();
    }

    /** Times every op of the replayed steps from now on (null: stop); see ReplayCache#profile. */
    public void profile(dev.loraj.core.graph.OpTimer timer) {
      replay.profile(timer);
    }

    /**
     * Blocks the replayed step recomputes with {@link Trainer#checkpointing} on: 0 without it,
     * before the first step of a batch shape, or when the step is not replayed.
     */
    public int recomputedBlocks() {
      return replay.recomputedBlocks();
    }

    /** Why the session's steps run through SameDiff's session, or {@code null} if replayed. */
    public String replayUnsupported() {
      return replay.unsupported();
    }

    /**
     * Runs optimizer step {@code step} (1-based) and returns its loss (before the update): the
     * objective plus the adapters' regularization terms, the quantity the gradients are of.
     */
    public double step(long step, Batches batches) {
      Map<String, INDArray> acc = new LinkedHashMap<>();
      double stepLoss = 0;
      double taskLoss = 0;
      List<String> outputs = taskLossName == null ? List.of(lossName) : List.of(lossName, taskLossName);
      for (int micro = 0; micro < config.accumulation(); micro++) {
        Map<String, INDArray> ph = batches.get(step, micro);
        var og = Graphs.gradientsAndOutputs(sd, ph, outputs, names, replay);
        INDArray lossArray = og.getOutputs().get(lossName);
        double l = lossArray.getDouble(0);
        INDArray taskArray = taskLossName == null ? lossArray : og.getOutputs().get(taskLossName);
        taskLoss += taskArray.getDouble(0) / config.accumulation();
        if (!Graphs.isFinite(l)) {
          throw new NonFiniteLossException(step, "loss is " + l);
        }
        stepLoss += l / config.accumulation();
        for (String n : names) {
          INDArray g = og.getGradients().get(n);
          if (g == null) {
            continue; // a base tensor the loss does not reach (logged when the session started)
          }
          INDArray a = acc.get(n);
          if (a == null) {
            // one micro-batch: the gradient itself (the run's output is the caller's to keep)
            acc.put(n, config.accumulation() == 1 ? g : g.div(config.accumulation()));
          } else {
            a.addi(g.divi(config.accumulation()));
          }
        }
        // Native memory is otherwise freed only when the JVM collects these objects: with a
        // large heap that is rarely, and a sweep's process grew past the machine's memory.
        if (config.accumulation() > 1) {
          release(og.getGradients().values());
        } // else they are the accumulators, released after the update
        release(taskArray == lossArray ? List.of(lossArray) : List.of(lossArray, taskArray));
        // The session would keep every array of this forward and backward pass reachable until
        // the next pass (~850 MiB for MiniLM at batch 16 x 32): see Graphs.releaseSessionState.
        Graphs.closeGradientRunArrays(sd, ph.values());
      }
      double sq = 0;
      for (Map.Entry<String, INDArray> e : acc.entrySet()) {
        double norm = e.getValue().norm2Number().doubleValue();
        if (!Graphs.isFinite(norm)) {
          throw new NonFiniteLossException(step, "gradient of " + e.getKey() + " is not finite");
        }
        sq += norm * norm;
      }
      double clip = 1.0;
      if (config.maxGradNorm() > 0 && Math.sqrt(sq) > config.maxGradNorm()) {
        clip = config.maxGradNorm() / (Math.sqrt(sq) + 1e-6);
      }
      // Adapters see the gradients as computed (AdaLoRA's sensitivity uses the raw gradient).
      // Only hooks that read them get copies (the update below overwrites g in place).
      Map<String, Map<String, Map<String, INDArray>>> perAdapterGrads = new LinkedHashMap<>();
      MemoryLedger held = new MemoryLedger().addAll(MemoryLedger.Category.GRADIENTS, acc.values());
      for (PeftModel.TrainableVar v : vars) {
        INDArray g = acc.get(v.varName());
        if (g != null && !v.isBase() && readsGradients(model.adapter(v.adapter()).sites().get(v.site()))) {
          perAdapterGrads.computeIfAbsent(v.adapter(), k -> new LinkedHashMap<>())
              .computeIfAbsent(v.site(), k -> new LinkedHashMap<>())
              .put(v.key(), g.dup());
        }
      }
      perAdapterGrads.values().forEach(bySite -> bySite.values().forEach(
          m -> held.addAll(MemoryLedger.Category.ACTIVATIONS, m.values())));
      gradientBytes = held.bytes(MemoryLedger.Category.GRADIENTS);
      gradientCopyBytes = held.bytes(MemoryLedger.Category.ACTIVATIONS);
      double lr = config.learningRateAt(step);
      for (PeftModel.TrainableVar v : vars) {
        INDArray g = acc.get(v.varName());
        if (g == null) {
          continue;
        }
        if (clip != 1.0) {
          g.muli(clip);
        }
        double plr = lr * v.lrMultiplier();
        if (!v.isBase()) {
          plr *= model.adapter(v.adapter()).sites().get(v.site()).learningRateScale(step);
        }
        adam.update(v, g, plr, step);
      }
      for (Map.Entry<String, Map<String, Map<String, INDArray>>> e : perAdapterGrads.entrySet()) {
        PeftModel.NamedAdapter na = model.adapter(e.getKey());
        for (Map.Entry<String, Adapter> site : na.sites().entrySet()) {
          Map<String, INDArray> grads = e.getValue().getOrDefault(site.getKey(), Map.of());
          StepContext.OptimizerState state = (key, keep) -> {
            String var = adapterVars.get(List.of(e.getKey(), site.getKey(), key));
            if (var == null) {
              throw new IllegalArgumentException("resetOptimizerState: '" + key + "' is not a trained"
                  + " parameter of adapter '" + e.getKey() + "' at " + site.getKey());
            }
            resetState(var, keep);
          };
          site.getValue().afterStep(new StepContext(step, config.steps(), grads, state));
        }
      }
      release(acc.values());
      perAdapterGrads.values().forEach(bySite -> bySite.values().forEach(m -> release(m.values())));
      NativeMemoryGuard.check();
      lastTaskLoss = taskLoss;
      return stepLoss;
    }

    /**
     * The objective's loss of the last {@link #step}, before its update and without the adapters'
     * regularization terms (AdaLoRA's orthogonality penalty): the step's loss itself when there
     * are none; NaN before the first step.
     */
    public double lastTaskLoss() {
      return lastTaskLoss;
    }
  }

  private static final Map<Class<?>, Boolean> READS_GRADIENTS = new java.util.concurrent.ConcurrentHashMap<>();

  /** Whether the adapter's class overrides {@link Adapter#afterStep} (the only reader of gradients). */
  private static boolean readsGradients(Adapter a) {
    return READS_GRADIENTS.computeIfAbsent(a.getClass(), c -> {
      try {
        return c.getMethod("afterStep", StepContext.class).getDeclaringClass() != Adapter.class;
      } catch (NoSuchMethodException e) {
        return true;
      }
    });
  }

  /** Frees arrays this trainer owns (SameDiff hands gradient outputs to the caller). */
  private static void release(java.util.Collection<INDArray> arrays) {
    for (INDArray a : arrays) {
      if (a != null && a.closeable() && !a.wasClosed()) {
        a.close();
      }
    }
  }
}
