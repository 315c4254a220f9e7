package dev.loraj.variants.svd;

import dev.loraj.core.adapter.BiasMode;

/**
 * MiLoRA (arXiv 2406.09044): LoRA initialised from the r minor (smallest) singular triplets of W.
 *
 * @param rank r; 8
 * @param alpha 8 = r: MiLoRA's code sets alpha = r for MiLoRA and PiSSA (s = 1)
 * @param dropout on the adapter's input; 0
 * @param useRslora {@code s = alpha / sqrt(r)}
 * @param svd only exact: a randomized SVD finds the largest triplets, not the smallest, so
 *     {@code randomized} is refused with that reason
 * @param bias which base biases train with the adapter
 */
public record MiloraConfig(
    int rank, double alpha, double dropout, boolean useRslora, SvdMethod svd, BiasMode bias)
    implements ResidualLoraConfig {

  public MiloraConfig {
    ResidualLoraConfig.check(rank, alpha, dropout);
    svd = svd == null ? SvdMethod.EXACT : svd;
    if (svd == SvdMethod.RANDOMIZED) {
      throw new IllegalArgumentException(
          "svd = randomized: MiLoRA keeps the smallest singular triplets, which a randomized SVD"
              + " does not approximate (it finds the largest); accepted: exact");
    }
    bias = bias == null ? BiasMode.NONE : bias;
  }

  public static MiloraConfig defaults() {
    return new MiloraConfig(8, 8, 0.0, false, SvdMethod.EXACT, BiasMode.NONE);
  }

  public MiloraConfig withRslora(boolean on) {
    return new MiloraConfig(rank, alpha, dropout, on, svd, bias);
  }

  @Override
  public MiloraConfig withRankAndAlpha(int rank, double alpha) {
    return new MiloraConfig(rank, alpha, dropout, useRslora, svd, bias);
  }
}
