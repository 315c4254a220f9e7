package dev.loraj.variants.lorafa;

import dev.loraj.core.adapter.Adapter;
import dev.loraj.core.adapter.AdapterConfig;
import dev.loraj.core.adapter.AdapterFactory;
import dev.loraj.core.adapter.AdapterGraph;
import dev.loraj.core.adapter.BiasMode;
import dev.loraj.core.adapter.SiteInit;
import dev.loraj.core.checkpoint.PeftExportable;
import dev.loraj.core.lora.LoraAdapter;
import dev.loraj.core.lora.LoraConfig;
import dev.loraj.core.lora.LoraInit;
import dev.loraj.core.model.LinearSite;
import java.util.Map;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * LoRA-FA, LoRA with frozen A (Zhang et al. 2023, arXiv 2308.03303 v1, section 3): the
 * projection-down A [r, in] is drawn at init and frozen, only the projection-up B [out, r]
 * (zero at init) is trained, {@code y = W x + s B A x}. The update {@code s B A} stays in the
 * fixed row space of A; what is saved is memory: the backward pass needs only the r-dimensional
 * {@code A x}, not the full input activation, to form B's gradient, and A has no optimizer state.
 *
 * <p>Here A is an adapter buffer (a graph constant, saved as {@code lora_A.weight} like PEFT,
 * never given to the optimizer), B the only parameter: r * out trainable values per site.
 *
 * <p>Not implemented: the closed-form gradient correction of the paper's later version (v2,
 * PEFT's {@code create_lorafa_optimizer}), which replaces B's gradient by
 * {@code (1/s^2) g_B (A A^T)^-1} before the Adam step; the trainer has no per-adapter gradient
 * hook for it (an {@code Adapter} method transforming gradients would be the core change).
 */
public final class LoraFa implements AdapterFactory<LoraFa.Config> {

  /**
   * LoRA-FA's config: LoRA's fields (A's init decides the frozen projection).
   *
   * @param rank r; PEFT's default 8
   * @param alpha scaling numerator; PEFT's default 8
   * @param dropout on the adapter input
   * @param useRslora {@code s = alpha / sqrt(r)}
   * @param init how the frozen A is drawn (B = 0)
   * @param bias which base biases train with the adapter
   */
  public record Config(int rank, double alpha, double dropout, boolean useRslora,
      LoraConfig.Init init, BiasMode bias) implements AdapterConfig, PeftExportable {

    public Config {
      LoraConfig checked = new LoraConfig(rank, alpha, dropout, useRslora, init, bias);
      init = checked.init();
      bias = checked.bias();
    }

    public static Config defaults() {
      return new Config(8, 8, 0.0, false, LoraConfig.Init.KAIMING, BiasMode.NONE);
    }

    @Override
    public Config withRankAndAlpha(int rank, double alpha) {
      return new Config(rank, alpha, dropout, useRslora, init, bias);
    }

    /**
     * Nothing beyond LoRA's fields: A is saved as {@code lora_A.weight}; that it stays frozen is
     * a training setting (PEFT's {@code create_lorafa_optimizer}).
     */
    @Override
    public Map<String, Object> peftConfigFields() {
      return Map.of();
    }

    public LoraConfig lora() {
      return new LoraConfig(rank, alpha, dropout, useRslora, init, bias);
    }
  }

  @Override
  public String name() {
    return "lora-fa";
  }

  @Override
  public String description() {
    return "LoRA-FA: LoRA with A frozen at init, only B trained (arXiv 2308.03303)";
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
    FrozenA adapter = new FrozenA(init.site(), config, lora.scaling(), lora.dropout());
    LoraInit strategy = lora.init() == LoraConfig.Init.GAUSSIAN ? LoraInit.GAUSSIAN : LoraInit.KAIMING;
    strategy.initialize(adapter.a(), adapter.b(), adapter.scaling(), init);
    return adapter;
  }

  /** r * out: B only. */
  @Override
  public long trainableParameters(Config config, LinearSite site) {
    return (long) config.rank() * site.out();
  }

  /** The frozen A [r, in] per site. */
  @Override
  public long frozenParameters(Config config, java.util.List<LinearSite> sites) {
    return sites.stream().mapToLong(s -> (long) config.rank() * s.in()).sum();
  }

  /** LoRA's branch with A read from a buffer. */
  static final class FrozenA extends LoraAdapter {

    FrozenA(LinearSite site, Config config, double scaling, double dropout) {
      super(site, config, scaling, dropout);
    }

    @Override
    public Map<String, INDArray> parameters() {
      return Map.of(B, b);
    }

    @Override
    public Map<String, INDArray> buffers() {
      return Map.of(A, a);
    }

    @Override
    public SDVariable forward(AdapterGraph g, SDVariable x, SDVariable baseOut) {
      return branch(g, x, g.buffer(A), g.param(B));
    }
  }
}
