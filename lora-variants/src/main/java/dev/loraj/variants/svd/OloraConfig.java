package dev.loraj.variants.svd;

import dev.loraj.core.adapter.BiasMode;

/**
 * OLoRA (arXiv 2406.01775; PEFT {@code init_lora_weights="olora"}): LoRA initialised from the QR
 * of W.
 *
 * @param rank r; 8 as PEFT's default
 * @param alpha 8 = r as PEFT's default: s = 1, so the residual is {@code W - Q_r R_r} (OLoRA does
 *     not divide by s; another alpha moves s Q_r R_r, not Q_r R_r, out of the base)
 * @param dropout on the adapter's input; 0
 * @param useRslora {@code s = alpha / sqrt(r)}
 * @param bias which base biases train with the adapter
 */
public record OloraConfig(int rank, double alpha, double dropout, boolean useRslora, BiasMode bias)
    implements ResidualLoraConfig {

  public OloraConfig {
    ResidualLoraConfig.check(rank, alpha, dropout);
    bias = bias == null ? BiasMode.NONE : bias;
  }

  public static OloraConfig defaults() {
    return new OloraConfig(8, 8, 0.0, false, BiasMode.NONE);
  }

  @Override
  public OloraConfig withRankAndAlpha(int rank, double alpha) {
    return new OloraConfig(rank, alpha, dropout, useRslora, bias);
  }
}
