package dev.loraj.variants.svd;

import dev.loraj.core.adapter.BiasMode;

/**
 * PiSSA (arXiv 2404.02948): LoRA initialised from the r principal singular triplets of W.
 *
 * @param rank r; 8 as PEFT's LoRA default
 * @param alpha 8 = r: the PiSSA paper runs with alpha = r (s = 1), so A and B carry exactly
 *     the square roots of the singular values
 * @param dropout on the adapter's input; 0 (PEFT's default)
 * @param useRslora {@code s = alpha / sqrt(r)}
 * @param svd exact (default: the paper's full SVD) or randomized (fast PiSSA)
 * @param niter subspace iterations of the randomized SVD; 4 as PEFT's {@code pissa_niter_4}
 *     example (ignored by the exact SVD)
 * @param bias which base biases train with the adapter
 */
public record PissaConfig(
    int rank, double alpha, double dropout, boolean useRslora, SvdMethod svd, int niter,
    BiasMode bias) implements ResidualLoraConfig {

  public PissaConfig {
    ResidualLoraConfig.check(rank, alpha, dropout);
    svd = svd == null ? SvdMethod.EXACT : svd;
    if (niter < 0) {
      throw new IllegalArgumentException(
          "niter = " + niter + ": must be >= 0 (PEFT's fast PiSSA examples use 4 to 16)");
    }
    bias = bias == null ? BiasMode.NONE : bias;
  }

  public static PissaConfig defaults() {
    return new PissaConfig(8, 8, 0.0, false, SvdMethod.EXACT, 4, BiasMode.NONE);
  }

  /** Fast PiSSA: randomized SVD with {@code niter} subspace iterations. */
  public PissaConfig withRandomizedSvd(int niter) {
    return new PissaConfig(rank, alpha, dropout, useRslora, SvdMethod.RANDOMIZED, niter, bias);
  }

  public PissaConfig withRslora(boolean on) {
    return new PissaConfig(rank, alpha, dropout, on, svd, niter, bias);
  }

  @Override
  public PissaConfig withRankAndAlpha(int rank, double alpha) {
    return new PissaConfig(rank, alpha, dropout, useRslora, svd, niter, bias);
  }
}
