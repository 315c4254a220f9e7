package dev.loraj.core.train;

import dev.loraj.core.adapter.Adapter;
import dev.loraj.core.adapter.StepContext;
import dev.loraj.core.graph.Graphs;
import dev.loraj.core.model.PeftModel;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.GradientUpdater;
import org.nd4j.linalg.learning.config.Adam;

/**
 * Trains the active adapters (and any trainable base tensors) of a {@link PeftModel}: gradients
 * from SameDiff, Adam from ND4J's updaters with decoupled weight decay (AdamW), per-parameter
 * learning-rate multipliers (LoRA+), schedule, clipping, accumulation, and the adapters'
 * regularization terms and after-step hooks.
 *
 * <p>A non-finite loss or gradient stops training before the update is applied, so the
 * parameters stay at the last good step; listeners (checkpoints) have seen only good steps.
 */
public final class Trainer {

  private final TrainConfig config;
  private final List<TrainListener> listeners = new ArrayList<>();

  public Trainer(TrainConfig config) {
    this.config = config;
  }

  public Trainer listen(TrainListener l) {
    listeners.add(l);
    return this;
  }

  public TrainResult train(PeftModel model, Objective objective, Batches batches) {
    Session session = start(model, objective);
    List<Double> losses = new ArrayList<>();
    List<Double> times = new ArrayList<>();
    for (long step = 1; step <= config.steps(); step++) {
      long t0 = System.nanoTime();
      double stepLoss = session.step(step, batches);
      double ms = (System.nanoTime() - t0) / 1e6;
      losses.add(stepLoss);
      times.add(ms);
      for (TrainListener l : listeners) {
        l.onStep(step, config.steps(), stepLoss, config.learningRateAt(step), ms);
      }
    }
    return new TrainResult(losses, times, session.optimizerStateBytes(), session.trainableParameters());
  }

  /** Builds the training graph and optimizer state once; {@link Session#step} runs one step. */
  public Session start(PeftModel model, Objective objective) {
    return new Session(model, objective);
  }

  /** One training run's graph, optimizer state and step function (also used by benchmarks). */
  public final class Session {
    private final PeftModel model;
    private final SameDiff sd;
    private final String lossName;
    private final List<PeftModel.TrainableVar> vars;
    private final List<String> names;
    private final Map<String, Adam> configs = new HashMap<>();
    private final Map<String, GradientUpdater<?>> updaters = new HashMap<>();
    private long stateBytes;

    private Session(PeftModel model, Objective objective) {
      this.model = model;
      Nd4j.getRandom().setSeed(config.seed()); // dropout masks; ND4J has no per-op RNG
      PeftModel.Built built = model.build(true, null);
      sd = built.sd();
      SDVariable loss = objective.loss(sd, built.output());
      SDVariable total = built.regularization() == null ? loss : loss.add(built.regularization());
      lossName = total.name();
      sd.setLossVariables(lossName);
      vars = built.trainable();
      if (vars.isEmpty()) {
        throw new IllegalStateException("nothing to train: no active adapter and no trainable base tensor");
      }
      Graphs.createGradFunction(sd, List.of());
      names = vars.stream().map(PeftModel.TrainableVar::varName).toList();
      for (PeftModel.TrainableVar v : vars) {
        Adam adam = new Adam(config.learningRate() * v.lrMultiplier(), config.beta1(), config.beta2(), config.epsilon());
        long n = v.array().length();
        INDArray state = Nd4j.zeros(DataType.FLOAT, 1, adam.stateSize(n));
        stateBytes += state.length() * 4;
        configs.put(v.varName(), adam);
        updaters.put(v.varName(), adam.instantiate(state, true));
      }
    }

    public long optimizerStateBytes() {
      return stateBytes;
    }

    public long trainableParameters() {
      return vars.stream().mapToLong(v -> v.array().length()).sum();
    }

    /** Runs optimizer step {@code step} (1-based) and returns its loss (before the update). */
    public double step(long step, Batches batches) {
      Map<String, INDArray> acc = new LinkedHashMap<>();
      double stepLoss = 0;
      for (int micro = 0; micro < config.accumulation(); micro++) {
        Map<String, INDArray> ph = batches.get(step, micro);
        var og = sd.calculateGradientsAndOutputs(ph, List.of(lossName), names);
        INDArray lossArray = og.getOutputs().get(lossName);
        double l = lossArray.getDouble(0);
        if (!Graphs.isFinite(l)) {
          throw new NonFiniteLossException(step, "loss is " + l);
        }
        stepLoss += l / config.accumulation();
        for (String n : names) {
          INDArray g = og.getGradients().get(n);
          if (g == null) {
            continue; // parameter not reached by the loss this step (e.g. masked)
          }
          INDArray a = acc.get(n);
          if (a == null) {
            acc.put(n, config.accumulation() == 1 ? g.dup() : g.div(config.accumulation()));
          } else {
            a.addi(g.divi(config.accumulation()));
          }
        }
        // Native memory is otherwise freed only when the JVM collects these objects: with a
        // large heap that is rarely, and a sweep's process grew past the machine's memory.
        release(og.getGradients().values());
        release(List.of(lossArray));
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
      Map<String, Map<String, Map<String, INDArray>>> perAdapterGrads = new LinkedHashMap<>();
      for (PeftModel.TrainableVar v : vars) {
        INDArray g = acc.get(v.varName());
        if (g != null && !v.isBase()) {
          perAdapterGrads.computeIfAbsent(v.adapter(), k -> new LinkedHashMap<>())
              .computeIfAbsent(v.site(), k -> new LinkedHashMap<>())
              .put(v.key(), g.dup());
        }
      }
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
        configs.get(v.varName()).setLearningRate(plr);
        updaters.get(v.varName()).applyUpdater(g, (int) (step - 1), 0); // g becomes the update
        INDArray p = v.array();
        if (config.weightDecay() > 0) {
          p.muli(1 - plr * config.weightDecay());
        }
        p.subi(g.reshape(p.shape()));
      }
      for (Map.Entry<String, Map<String, Map<String, INDArray>>> e : perAdapterGrads.entrySet()) {
        PeftModel.NamedAdapter na = model.adapter(e.getKey());
        for (Map.Entry<String, Adapter> site : na.sites().entrySet()) {
          Map<String, INDArray> grads = e.getValue().getOrDefault(site.getKey(), Map.of());
          site.getValue().afterStep(new StepContext(step, config.steps(), grads));
        }
      }
      release(acc.values());
      perAdapterGrads.values().forEach(bySite -> bySite.values().forEach(m -> release(m.values())));
      return stepLoss;
    }
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
