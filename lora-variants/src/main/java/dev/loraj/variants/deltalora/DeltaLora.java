package dev.loraj.variants.deltalora;

import dev.loraj.core.adapter.Adapter;
import dev.loraj.core.adapter.AdapterConfig;
import dev.loraj.core.adapter.AdapterFactory;
import dev.loraj.core.adapter.BiasMode;
import dev.loraj.core.adapter.SiteInit;
import dev.loraj.core.adapter.StepContext;
import dev.loraj.core.checkpoint.NoPeftForm;
import dev.loraj.core.lora.DenseDeltaLoraAdapter;
import dev.loraj.core.lora.LoraConfig;
import dev.loraj.core.lora.LoraInit;
import dev.loraj.core.model.LinearSite;
import java.util.Map;
import java.util.Optional;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Delta-LoRA (Zi et al. 2023, arXiv 2309.02411, section 4, algorithm 1): LoRA that also moves
 * the pretrained weight by the change of the low-rank product after every optimizer step,
 *
 * <pre>
 *   W(t+1) = W(t) + lambda * (s B(t+1) A(t+1) - s B(t) A(t))     for t > K (update_start_steps)
 * </pre>
 *
 * so W learns with no gradient or optimizer state of its own; dropout is removed from the
 * low-rank branch (the paper's argument equates the delta of BA with W's gradient only without
 * it), so this config has no dropout field.
 *
 * <p>Where the update goes. The framework's contract is that frozen base weights stay
 * bit-identical while training (disable, unmerge and several adapters on one base rely on it).
 * So the accumulated {@code W(t) - W(0)} is held by the adapter as a dense buffer
 * {@code D} [out, in] and added in the forward pass: {@code y = x (W + D)^T + b + s B A x}, which is
 * the paper's model exactly. The cost is one dense [out, in] array per site (plus a copy of A and
 * B), which the paper avoids by writing into W in place; merge writes {@code W + D + s B A}.
 * Because the sum telescopes, after step T (with K = 0, B(0) = 0) {@code D = lambda s B(T) A(T)}.
 *
 * <p>The delta uses the scaled product {@code s B A} (the update the model actually applies), so
 * lambda means the same at any alpha/r.
 */
public final class DeltaLora implements AdapterFactory<DeltaLora.Config>, NoPeftForm {

  @Override
  public String noPeftFormReason() {
    return "Delta-LoRA also changes the base weight (by the difference of successive A B"
        + " products, held here as a dense update per site), and PEFT's adapter types have"
        + " no field for a dense weight update";
  }

  /** Buffer key of the accumulated weight update D [out, in] (torch layout). */
  public static final String WEIGHT_DELTA = "delta_lora.weight_delta";

  /**
   * Delta-LoRA's config.
   *
   * @param rank r; PEFT-style default 8
   * @param alpha scaling numerator; default 8
   * @param useRslora {@code s = alpha / sqrt(r)}
   * @param init how A is drawn (B = 0)
   * @param bias which base biases train with the adapter
   * @param updateRatio lambda, how far W moves per unit change of {@code s B A}; default 2 (our
   *     reading of the paper's setting), must be >= 0 (0 is plain LoRA without dropout)
   * @param updateStartSteps K, optimizer steps before W starts to move (the paper warms up the
   *     low-rank pair first; its value is task-dependent); default 0
   */
  public record Config(int rank, double alpha, boolean useRslora, LoraConfig.Init init,
      BiasMode bias, double updateRatio, int updateStartSteps) implements AdapterConfig {

    public Config {
      LoraConfig checked = new LoraConfig(rank, alpha, 0.0, useRslora, init, bias);
      init = checked.init();
      bias = checked.bias();
      if (!(updateRatio >= 0) || Double.isInfinite(updateRatio)) {
        throw new IllegalArgumentException(
            "update_ratio = " + updateRatio + ": must be a finite number >= 0");
      }
      if (updateStartSteps < 0) {
        throw new IllegalArgumentException("update_start_steps = " + updateStartSteps + ": must be >= 0");
      }
    }

    public static Config defaults() {
      return new Config(8, 8, false, LoraConfig.Init.KAIMING, BiasMode.NONE, 2.0, 0);
    }

    @Override
    public Config withRankAndAlpha(int rank, double alpha) {
      return new Config(rank, alpha, useRslora, init, bias, updateRatio, updateStartSteps);
    }

    public Config withUpdate(double ratio, int startSteps) {
      return new Config(rank, alpha, useRslora, init, bias, ratio, startSteps);
    }

    public LoraConfig lora() {
      return new LoraConfig(rank, alpha, 0.0, useRslora, init, bias);
    }
  }

  @Override
  public String name() {
    return "delta-lora";
  }

  @Override
  public String description() {
    return "Delta-LoRA: LoRA that also moves W by lambda * delta(sBA) each step (arXiv 2309.02411)";
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
    LoraConfig lora = config.lora();
    DeltaAdapter adapter = new DeltaAdapter(init.site(), config, lora.scaling());
    LoraInit strategy = lora.init() == LoraConfig.Init.GAUSSIAN ? LoraInit.GAUSSIAN : LoraInit.KAIMING;
    strategy.initialize(adapter.a(), adapter.b(), adapter.scaling(), init);
    adapter.previous = adapter.lowRankDelta();
    return adapter;
  }

  /** LoRA's r (in + out): W's update has no trainable parameters. */
  @Override
  public long trainableParameters(Config config, LinearSite site) {
    return (long) config.rank() * (site.in() + site.out());
  }

  /** Per site the dense update D and the previous {@code s B A}, both [out, in]. */
  @Override
  public long frozenParameters(Config config, java.util.List<LinearSite> sites) {
    return sites.stream().mapToLong(s -> 2L * s.in() * s.out()).sum();
  }

  /** LoRA's branch plus the accumulated weight update D. */
  public static final class DeltaAdapter extends DenseDeltaLoraAdapter {
    private final Config deltaConfig;
    private INDArray previous; // s B(t) A(t) [out, in], updated in place

    DeltaAdapter(LinearSite site, Config config, double scaling) {
      super(site, config, scaling, 0.0, WEIGHT_DELTA);
      this.deltaConfig = config;
    }

    @Override
    public java.util.Collection<INDArray> heldArrays() {
      return previous == null ? java.util.List.of() : java.util.List.of(previous);
    }

    /** D = W(t) - W(0), the weight update accumulated so far [out, in]. */
    public INDArray weightDelta() {
      return dense;
    }

    /** Algorithm 1: after the step that produced A(t+1), B(t+1), move W unless t <= K. */
    @Override
    public void afterStep(StepContext context) {
      INDArray current = lowRankDelta(); // s B(t+1) A(t+1)
      if (context.step() > deltaConfig.updateStartSteps() && deltaConfig.updateRatio() != 0) {
        dense.addi(current.sub(previous).muli(deltaConfig.updateRatio()));
      }
      previous.assign(current);
    }

    /** The last step's {@code s B A}, from which the next step's W update is taken. */
    @Override
    public Optional<Map<String, INDArray>> trainingState() {
      return Optional.of(Map.of("previous_delta", previous));
    }
  }
}
