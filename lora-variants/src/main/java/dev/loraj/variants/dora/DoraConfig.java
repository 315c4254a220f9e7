package dev.loraj.variants.dora;

import dev.loraj.core.adapter.AdapterConfig;
import dev.loraj.core.adapter.BiasMode;
import dev.loraj.core.lora.LoraConfig;

/**
 * DoRA's config: LoRA's fields (DoRA decomposes the same {@code s B A} update), PEFT's
 * {@code use_dora=True}.
 *
 * @param rank r; PEFT's default 8 (the paper uses 8-64 depending on the model)
 * @param alpha scaling numerator; PEFT's default 8
 * @param dropout on the adapter input; with dropout active the magnitude term sees the dropped
 *     input too, as in PEFT
 * @param useRslora {@code s = alpha / sqrt(r)} instead of {@code alpha / r}
 * @param init how A is drawn (B is zero, so the model is unchanged at init)
 * @param bias which base biases train with the adapter
 */
public record DoraConfig(
    int rank, double alpha, double dropout, boolean useRslora, LoraConfig.Init init, BiasMode bias)
    implements AdapterConfig {

  public DoraConfig {
    LoraConfig checked = new LoraConfig(rank, alpha, dropout, useRslora, init, bias);
    init = checked.init();
    bias = checked.bias();
  }

  /** PEFT's LoRA defaults (r = 8, alpha = 8, no dropout, kaiming A). */
  public static DoraConfig defaults() {
    return new DoraConfig(8, 8, 0.0, false, LoraConfig.Init.KAIMING, BiasMode.NONE);
  }

  public static DoraConfig of(int rank, double alpha) {
    return defaults().withRankAndAlpha(rank, alpha);
  }

  @Override
  public DoraConfig withRankAndAlpha(int rank, double alpha) {
    return new DoraConfig(rank, alpha, dropout, useRslora, init, bias);
  }

  public DoraConfig withDropout(double p) {
    return new DoraConfig(rank, alpha, p, useRslora, init, bias);
  }

  /** The LoRA update underneath the decomposition. */
  public LoraConfig lora() {
    return new LoraConfig(rank, alpha, dropout, useRslora, init, bias);
  }
}
