package dev.loraj.variants.relora;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonValue;
import dev.loraj.core.adapter.Adapter;
import dev.loraj.core.adapter.AdapterConfig;
import dev.loraj.core.adapter.AdapterFactory;
import dev.loraj.core.adapter.BiasMode;
import dev.loraj.core.adapter.SiteInit;
import dev.loraj.core.adapter.StepContext;
import dev.loraj.core.checkpoint.NoPeftForm;
import dev.loraj.core.lora.DenseDeltaLoraAdapter;
import dev.loraj.core.lora.Fill;
import dev.loraj.core.lora.LoraConfig;
import dev.loraj.core.model.LinearSite;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.SplittableRandom;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * ReLoRA (Lialin et al. 2023, arXiv 2307.05695, Sec. 3, algorithm 1): high-rank training
 * through a sequence of low-rank updates. Every {@code reset_every} optimizer steps
 *
 * <pre>
 *   W  <- W + s B A                  (merge)
 *   A  ~ kaiming-uniform, B = 0      (restart: the model output is unchanged)
 *   Adam moments of A and B reset (all zero) or magnitude-pruned (keep the largest 1 - p)
 * </pre>
 *
 * and the learning rate follows a jagged schedule: after each restart it warms up again from 0
 * over {@code rewarm_steps} steps ({@link #rewarmFactor}), on top of the trainer's own schedule
 * (the paper's "jagged cosine" when the trainer runs a cosine schedule). The sum of the merged
 * updates can have rank up to (number of restarts + 1) * r.
 *
 * <p>Where the merge goes. The framework's contract is that frozen base weights stay
 * bit-identical while training (disable, unmerge and several adapters on one base rely on it),
 * so, as in {@code DeltaLora}, the merged updates accumulate in a dense buffer {@code D} [out, in]
 * held by the adapter and added in the forward pass: {@code y = x (W + D)^T + b + s B A x}, the
 * paper's model exactly. This trades memory for the contract: one dense [out, in] array per site
 * (the paper writes into W in place and has no such cost), and one extra frozen matmul per site
 * per forward pass, also before the first restart while D is still zero. {@link #deltaWeight}
 * is {@code D + s B A}, so merge/unmerge/export see everything ReLoRA learned.
 *
 * <p>The optimizer reset needs the trainer: {@link StepContext#resetOptimizerState} (a no-op when
 * {@code afterStep} is driven by hand). Adam's step counter (bias correction) is not reset, as in
 * PyTorch where only the moment tensors are pruned. The jagged rate uses
 * {@link Adapter#learningRateScale(long)}.
 */
public final class ReLora implements AdapterFactory<ReLora.Config>, NoPeftForm {

  @Override
  public String noPeftFormReason() {
    return "ReLoRA merges its factors into a dense update at every restart; PEFT has no"
        + " ReLoRA type and a LoRA file would hold only the factors since the last restart";
  }

  /** Buffer key of the merged updates D [out, in] (torch layout). */
  public static final String MERGED = "relora.merged_delta";

  /** What a restart does to the Adam moments of A and B. */
  public enum OptimizerReset {
    /** All moments zero. */
    RESET,
    /** Magnitude pruning: each moment tensor keeps its largest {@code 1 - prune_ratio} entries. */
    PRUNE;

    @JsonValue
    public String json() {
      return name().toLowerCase(Locale.ROOT);
    }

    @JsonCreator
    public static OptimizerReset parse(String s) {
      for (OptimizerReset r : values()) {
        if (r.json().equalsIgnoreCase(s)) {
          return r;
        }
      }
      throw new IllegalArgumentException("optimizer_reset = '" + s + "': accepted reset, prune");
    }
  }

  /**
   * ReLoRA's config.
   *
   * @param rank r; 8 as the other variants' default (the paper uses 128 when pre-training)
   * @param alpha scaling numerator; 8 (s = 1 at r = 8)
   * @param dropout on the adapter input; 0
   * @param useRslora {@code s = alpha / sqrt(r)}
   * @param bias which base biases train with the adapter
   * @param resetEvery merge-and-restart period in optimizer steps; 200, short enough that a
   *     fine-tuning run of a few thousand steps restarts several times (the paper's pre-training
   *     runs use 5,000), long enough that short runs (the conformance suite) never restart
   * @param optimizerReset {@code reset} (all Adam moments zero) or {@code prune}; prune by
   *     default, the paper's partial reset
   * @param pruneRatio fraction of each moment tensor zeroed by {@code prune}, in [0, 1); 0.999
   *     (ignored by {@code reset})
   * @param rewarmSteps length of the linear re-warm-up after each restart, in [0, reset_every];
   *     50 (0 disables the jagged schedule)
   */
  public record Config(int rank, double alpha, double dropout, boolean useRslora, BiasMode bias,
      int resetEvery, OptimizerReset optimizerReset, double pruneRatio, int rewarmSteps)
      implements AdapterConfig {

    public Config {
      LoraConfig checked = new LoraConfig(rank, alpha, dropout, useRslora, LoraConfig.Init.KAIMING, bias);
      bias = checked.bias();
      optimizerReset = optimizerReset == null ? OptimizerReset.PRUNE : optimizerReset;
      if (resetEvery < 1) {
        throw new IllegalArgumentException("reset_every = " + resetEvery + ": must be >= 1 (optimizer steps)");
      }
      if (!(pruneRatio >= 0 && pruneRatio < 1)) {
        throw new IllegalArgumentException("prune_ratio = " + pruneRatio + ": must be in [0, 1)");
      }
      if (rewarmSteps < 0 || rewarmSteps > resetEvery) {
        throw new IllegalArgumentException("rewarm_steps = " + rewarmSteps + ": must be in [0, reset_every = "
            + resetEvery + "]");
      }
    }

    public static Config defaults() {
      return new Config(8, 8, 0.0, false, BiasMode.NONE, 200, OptimizerReset.PRUNE, 0.999, 50);
    }

    @Override
    public Config withRankAndAlpha(int rank, double alpha) {
      return new Config(rank, alpha, dropout, useRslora, bias, resetEvery, optimizerReset, pruneRatio, rewarmSteps);
    }

    public Config withRestarts(int resetEvery, int rewarmSteps) {
      return new Config(rank, alpha, dropout, useRslora, bias, resetEvery, optimizerReset, pruneRatio, rewarmSteps);
    }

    public Config withOptimizerReset(OptimizerReset reset, double pruneRatio) {
      return new Config(rank, alpha, dropout, useRslora, bias, resetEvery, reset, pruneRatio, rewarmSteps);
    }

    public LoraConfig lora() {
      return new LoraConfig(rank, alpha, dropout, useRslora, LoraConfig.Init.KAIMING, bias);
    }

    /** Fraction of each Adam moment tensor a restart keeps: 0 for reset, 1 - p for prune. */
    public double keepFraction() {
      return optimizerReset == OptimizerReset.RESET ? 0.0 : 1.0 - pruneRatio;
    }
  }

  @Override
  public String name() {
    return "relora";
  }

  @Override
  public String description() {
    return "ReLoRA: LoRA merged into W and restarted every N steps, jagged LR (arXiv 2307.05695)";
  }

  @Override
  public Class<Config> configType() {
    return Config.class;
  }

  @Override
  public Config defaultConfig() {
    return Config.defaults();
  }

  @Override
  public Adapter create(Config config, SiteInit init) {
    ReLoraAdapter adapter = new ReLoraAdapter(init.site(), config, config.lora().scaling(), init.random());
    adapter.restartFactors();
    return adapter;
  }

  /** LoRA's r (in + out): the merged buffer D is not trained. */
  @Override
  public long trainableParameters(Config config, LinearSite site) {
    return (long) config.rank() * (site.in() + site.out());
  }

  /** The dense sum of the merged restarts, [out, in] per site. */
  @Override
  public long frozenParameters(Config config, java.util.List<LinearSite> sites) {
    return sites.stream().mapToLong(s -> (long) s.in() * s.out()).sum();
  }

  /**
   * The jagged factor at 1-based step {@code step} (Sec. 3, "jagged cosine"): 1 during the first
   * cycle (the trainer's own warm-up applies there), then {@code p / rewarm_steps} for the first
   * {@code rewarm_steps} steps of every later cycle, p = steps since the restart (0 on the first
   * step after it, as the trainer's warm-up starts at 0), and 1 for the rest of the cycle.
   */
  public static double rewarmFactor(long step, int resetEvery, int rewarmSteps) {
    long t = step - 1;
    long cycle = t / resetEvery;
    long p = t % resetEvery;
    if (cycle == 0 || rewarmSteps == 0 || p >= rewarmSteps) {
      return 1.0;
    }
    return (double) p / rewarmSteps;
  }

  /** LoRA's branch plus the merged updates D; restarts in {@link #afterStep}. */
  public static final class ReLoraAdapter extends DenseDeltaLoraAdapter {
    private final Config reloraConfig;
    private final SplittableRandom random; // A's draws, at creation and every restart
    private int restarts;

    ReLoraAdapter(LinearSite site, Config config, double scaling, SplittableRandom random) {
      super(site, config, scaling, config.dropout(), MERGED);
      this.reloraConfig = config;
      this.random = random;
    }

    /** D, the sum of the updates merged so far [out, in]. */
    public INDArray mergedDelta() {
      return dense;
    }

    /** How many merge-and-restarts have happened. */
    public int restarts() {
      return restarts;
    }

    @Override
    public double learningRateScale(long step) {
      return rewarmFactor(step, reloraConfig.resetEvery(), reloraConfig.rewarmSteps());
    }

    /**
     * Not captured: the restarts draw A from this adapter's own random generator, whose position
     * a checkpoint of arrays cannot hold, so a resumed run would restart with other factors.
     */
    @Override
    public Optional<Map<String, INDArray>> trainingState() {
      return Optional.empty();
    }

    /** Algorithm 1: after every {@code reset_every}-th step, merge, restart and reset the state. */
    @Override
    public void afterStep(StepContext context) {
      if (context.step() % reloraConfig.resetEvery() != 0) {
        return;
      }
      mergeAndRestart();
      double keep = reloraConfig.keepFraction();
      context.resetOptimizerState(A, keep);
      context.resetOptimizerState(B, keep);
    }

    /** {@code D += s B A}, then A ~ kaiming-uniform and B = 0: the output is unchanged. */
    public void mergeAndRestart() {
      dense.addi(lowRankDelta());
      restartFactors();
      restarts++;
    }

    /** In place (the training graph holds these arrays): A ~ U(-1/sqrt(in), 1/sqrt(in)), B = 0. */
    void restartFactors() {
      double bound = 1.0 / Math.sqrt(a.size(1));
      Fill.uniform(a, -bound, bound, random);
      b.assign(0);
    }
  }
}
