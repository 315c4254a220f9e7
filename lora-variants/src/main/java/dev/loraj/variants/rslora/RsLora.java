package dev.loraj.variants.rslora;

import dev.loraj.core.adapter.Adapter;
import dev.loraj.core.adapter.AdapterConfig;
import dev.loraj.core.adapter.AdapterFactory;
import dev.loraj.core.adapter.BiasMode;
import dev.loraj.core.adapter.SiteInit;
import dev.loraj.core.checkpoint.PeftExportable;
import dev.loraj.core.lora.EmbeddingLoraAdapter;
import dev.loraj.core.lora.Lora;
import dev.loraj.core.lora.LoraAdapter;
import dev.loraj.core.lora.LoraConfig;
import dev.loraj.core.lora.LoraInit;
import dev.loraj.core.model.LinearSite;

/**
 * rsLoRA, rank-stabilized LoRA (Kalajdzievski 2023, arXiv 2312.03732, section 3, the
 * rank-stabilization theorem): LoRA with the scaling factor {@code gamma_r = alpha / sqrt(r)}
 * instead of {@code alpha / r}.
 * With {@code alpha / r} the update's activations and gradients collapse as r grows (learning
 * slows at large ranks); {@code 1 / sqrt(r)} is the unique scaling (up to a constant) that keeps
 * them of order 1 in r.
 *
 * <p>Everything else is plain LoRA: {@code y = W x + (alpha / sqrt r) B A x}, B = 0 at init. This
 * is PEFT's {@code LoraConfig(use_rslora=True)} under its own registry name; the adapter is
 * {@link LoraAdapter} itself, so checkpoints have LoRA's keys.
 */
public final class RsLora implements AdapterFactory<RsLora.Config> {

  /**
   * rsLoRA's config: LoRA's fields without the {@code use_rslora} switch (it is always on).
   *
   * @param rank r; PEFT's default 8
   * @param alpha scaling numerator; PEFT's default 8, so s = 8 / sqrt(8) ~ 2.83 at the defaults
   * @param dropout on the adapter input
   * @param init how A is drawn (B = 0)
   * @param bias which base biases train with the adapter
   */
  public record Config(int rank, double alpha, double dropout, LoraConfig.Init init, BiasMode bias)
      implements AdapterConfig, PeftExportable {

    public Config {
      LoraConfig checked = new LoraConfig(rank, alpha, dropout, true, init, bias);
      init = checked.init();
      bias = checked.bias();
    }

    public static Config defaults() {
      return new Config(8, 8, 0.0, LoraConfig.Init.KAIMING, BiasMode.NONE);
    }

    @Override
    public Config withRankAndAlpha(int rank, double alpha) {
      return new Config(rank, alpha, dropout, init, bias);
    }

    /** The equivalent plain LoRA config ({@code use_rslora = true}). */
    public LoraConfig lora() {
      return new LoraConfig(rank, alpha, dropout, true, init, bias);
    }

    /** PEFT's LoRA with {@code use_rslora}. */
    @Override
    public java.util.Map<String, Object> peftConfigFields() {
      return java.util.Map.of("use_rslora", true);
    }

    /** {@code alpha / sqrt(r)}. */
    public double scaling() {
      return lora().scaling();
    }
  }

  @Override
  public String name() {
    return "rslora";
  }

  @Override
  public String description() {
    return "rsLoRA: LoRA scaled by alpha/sqrt(r) (arXiv 2312.03732)";
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
    if (init.site().embedding()) {
      return new EmbeddingLoraAdapter(init.site(), config, lora.scaling(), init);
    }
    LoraAdapter adapter = new LoraAdapter(init.site(), config, lora.scaling(), lora.dropout());
    LoraInit strategy = lora.init() == LoraConfig.Init.GAUSSIAN ? LoraInit.GAUSSIAN : LoraInit.KAIMING;
    strategy.initialize(adapter.a(), adapter.b(), adapter.scaling(), init);
    return adapter;
  }

  /** Embedding tables as LoRA's, with {@code alpha / sqrt(r)}. */
  @Override
  public boolean adaptsEmbeddings() {
    return true;
  }

  @Override
  public long trainableParameters(Config config, LinearSite site) {
    return new Lora().trainableParameters(config.lora(), site);
  }
}
