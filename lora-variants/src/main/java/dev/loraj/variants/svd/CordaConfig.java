package dev.loraj.variants.svd;

import dev.loraj.core.adapter.BiasMode;

/**
 * CorDA (arXiv 2406.05223; PEFT {@code init_lora_weights="corda"}): LoRA initialised from the SVD
 * of W times the input covariance of calibration data ({@code PeftModel.calibrate}).
 *
 * @param rank r; 8
 * @param alpha 8 = r (s = 1), as for PiSSA: CorDA also divides the kept singular values by s
 * @param dropout on the adapter's input; 0
 * @param useRslora {@code s = alpha / sqrt(r)}
 * @param method ipm (instruction-previewed: the largest r directions, adapt to the calibration
 *     task) or kpm (knowledge-preserved: the smallest r, keep what the calibration data probes);
 *     ipm by default, as PEFT's {@code CordaConfig.corda_method}
 * @param bias which base biases train with the adapter
 */
public record CordaConfig(
    int rank, double alpha, double dropout, boolean useRslora, CordaInit.Mode method, BiasMode bias)
    implements ResidualLoraConfig {

  public CordaConfig {
    ResidualLoraConfig.check(rank, alpha, dropout);
    method = method == null ? CordaInit.Mode.IPM : method;
    bias = bias == null ? BiasMode.NONE : bias;
  }

  public static CordaConfig defaults() {
    return new CordaConfig(8, 8, 0.0, false, CordaInit.Mode.IPM, BiasMode.NONE);
  }

  public CordaConfig withMethod(CordaInit.Mode m) {
    return new CordaConfig(rank, alpha, dropout, useRslora, m, bias);
  }

  @Override
  public CordaConfig withRankAndAlpha(int rank, double alpha) {
    return new CordaConfig(rank, alpha, dropout, useRslora, method, bias);
  }
}
