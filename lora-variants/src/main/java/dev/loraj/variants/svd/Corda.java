package dev.loraj.variants.svd;

import dev.loraj.core.lora.LoraInit;

/**
 * CorDA (Yang et al., arXiv 2406.05223): context-oriented decomposition adaptation. Needs
 * calibration: call {@code PeftModel.calibrate(batches)} on a few batches of the task (IPM) or of
 * the knowledge to keep (KPM) before {@code addAdapter}; the equations are in {@link CordaInit}.
 */
public final class Corda extends ResidualLoraFactory<CordaConfig> {

  @Override
  public String name() {
    return "corda";
  }

  @Override
  public String description() {
    return "CorDA: LoRA from the SVD of W times the calibration input covariance (arXiv 2406.05223)";
  }

  @Override
  public Class<CordaConfig> configType() {
    return CordaConfig.class;
  }

  @Override
  public CordaConfig defaultConfig() {
    return CordaConfig.defaults();
  }

  @Override
  protected LoraInit initFor(CordaConfig config) {
    return new CordaInit(config.method());
  }
}
