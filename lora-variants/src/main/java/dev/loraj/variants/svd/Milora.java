package dev.loraj.variants.svd;

import dev.loraj.core.lora.LoraInit;

/**
 * MiLoRA (Wang et al., arXiv 2406.09044): minor singular component adaptation. The adapter
 * starts as the bottom-r SVD term of W, so fine-tuning moves the least important directions and
 * leaves the principal ones in the frozen residual; the equations are in {@link SvdInit} (slice
 * {@link SvdInit.Slice#MINOR}).
 */
public final class Milora extends ResidualLoraFactory<MiloraConfig> {

  @Override
  public String name() {
    return "milora";
  }

  @Override
  public String description() {
    return "MiLoRA: LoRA from the r minor singular triplets of W, base = residual (arXiv 2406.09044)";
  }

  @Override
  public Class<MiloraConfig> configType() {
    return MiloraConfig.class;
  }

  @Override
  public MiloraConfig defaultConfig() {
    return MiloraConfig.defaults();
  }

  @Override
  protected LoraInit initFor(MiloraConfig config) {
    return new SvdInit(SvdInit.Slice.MINOR, config.svd(), 0);
  }
}
