package dev.loraj.variants.loraplus;

import dev.loraj.core.adapter.Adapter;
import dev.loraj.core.adapter.AdapterConfig;
import dev.loraj.core.adapter.AdapterFactory;
import dev.loraj.core.adapter.BiasMode;
import dev.loraj.core.adapter.SiteInit;
import dev.loraj.core.checkpoint.PeftExportable;
import dev.loraj.core.lora.LoraAdapter;
import dev.loraj.core.lora.LoraConfig;
import dev.loraj.core.lora.LoraInit;
import dev.loraj.core.model.LinearSite;
import java.util.Map;

/**
 * LoRA+ (Hayou, Ghosh and Yu 2024, arXiv 2402.12354, the definition of LoRA+): plain LoRA whose
 * B is trained with a larger learning rate, {@code eta_B = lambda * eta_A}. The paper's
 * infinite-width analysis shows that equal learning rates for A and B cannot learn features
 * efficiently as the width grows, and that {@code eta_B / eta_A} should grow with the width; its
 * experiments recommend {@code lambda = 2^4 = 16} as a default.
 *
 * <p>The model, the init and the checkpoint keys are LoRA's; only
 * {@link Adapter#learningRateMultipliers()} differs ({@code lora_B.weight -> lambda}), which the
 * trainer applies to its per-parameter Adam learning rate (PEFT does the same with parameter
 * groups in {@code optimizers/loraplus.py}, where {@code loraplus_lr_ratio} must be >= 1).
 * PEFT's separate learning rate for embedding B matrices does not apply: the sites here are
 * linear layers.
 */
public final class LoraPlus implements AdapterFactory<LoraPlus.Config> {

  /**
   * LoRA+'s config: LoRA's fields plus the learning-rate ratio.
   *
   * @param rank r; PEFT's default 8
   * @param alpha scaling numerator; PEFT's default 8
   * @param dropout on the adapter input
   * @param useRslora {@code s = alpha / sqrt(r)}
   * @param init how A is drawn (B = 0)
   * @param bias which base biases train with the adapter
   * @param lrRatio {@code lambda = eta_B / eta_A}, >= 1 (PEFT's check); 16 is the paper's
   *     recommendation for most tasks
   */
  public record Config(int rank, double alpha, double dropout, boolean useRslora,
      LoraConfig.Init init, BiasMode bias, double lrRatio) implements AdapterConfig, PeftExportable {

    public Config {
      LoraConfig checked = new LoraConfig(rank, alpha, dropout, useRslora, init, bias);
      init = checked.init();
      bias = checked.bias();
      if (!(lrRatio >= 1) || Double.isInfinite(lrRatio)) {
        throw new IllegalArgumentException(
            "lr_ratio = " + lrRatio + ": must be a finite number >= 1 (B learns lr_ratio times"
                + " faster than A; the paper suggests 16)");
      }
    }

    public static Config defaults() {
      return new Config(8, 8, 0.0, false, LoraConfig.Init.KAIMING, BiasMode.NONE, 16);
    }

    @Override
    public Config withRankAndAlpha(int rank, double alpha) {
      return new Config(rank, alpha, dropout, useRslora, init, bias, lrRatio);
    }

    public Config withLrRatio(double ratio) {
      return new Config(rank, alpha, dropout, useRslora, init, bias, ratio);
    }

    /**
     * Nothing beyond LoRA's fields: the ratio is a training setting (PEFT's
     * {@code create_loraplus_optimizer}), kept in the framework's variant record.
     */
    @Override
    public Map<String, Object> peftConfigFields() {
      return Map.of();
    }

    /** The LoRA model underneath. */
    public LoraConfig lora() {
      return new LoraConfig(rank, alpha, dropout, useRslora, init, bias);
    }
  }

  @Override
  public String name() {
    return "loraplus";
  }

  @Override
  public String description() {
    return "LoRA+: LoRA with B's learning rate lr_ratio x A's (arXiv 2402.12354)";
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
    Map<String, Double> multipliers = Map.of(LoraAdapter.B, config.lrRatio());
    LoraAdapter adapter = new LoraAdapter(init.site(), config, lora.scaling(), lora.dropout()) {
      @Override
      public Map<String, Double> learningRateMultipliers() {
        return multipliers;
      }
    };
    LoraInit strategy = lora.init() == LoraConfig.Init.GAUSSIAN ? LoraInit.GAUSSIAN : LoraInit.KAIMING;
    strategy.initialize(adapter.a(), adapter.b(), adapter.scaling(), init);
    return adapter;
  }

  /** LoRA's r (in + out): LoRA+ changes the optimizer, not the model. */
  @Override
  public long trainableParameters(Config config, LinearSite site) {
    return (long) config.rank() * (site.in() + site.out());
  }
}
