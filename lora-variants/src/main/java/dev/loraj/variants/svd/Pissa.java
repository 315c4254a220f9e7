package dev.loraj.variants.svd;

import dev.loraj.core.lora.LoraInit;

/**
 * PiSSA (Meng et al., arXiv 2404.02948): principal singular values and vectors adaptation. The
 * adapter starts as the top-r SVD term of W and the frozen base becomes the residual; the
 * equations are in {@link SvdInit} (slice {@link SvdInit.Slice#PRINCIPAL}). {@code svd:
 * randomized} is fast PiSSA. Export to plain LoRA: {@link ResidualLoraAdapter#exportToLora()}.
 */
public final class Pissa extends ResidualLoraFactory<PissaConfig> {

  @Override
  public String name() {
    return "pissa";
  }

  @Override
  public String description() {
    return "PiSSA: LoRA from the r principal singular triplets of W, base = residual (arXiv 2404.02948)";
  }

  @Override
  public Class<PissaConfig> configType() {
    return PissaConfig.class;
  }

  @Override
  public PissaConfig defaultConfig() {
    return PissaConfig.defaults();
  }

  @Override
  protected LoraInit initFor(PissaConfig config) {
    return new SvdInit(SvdInit.Slice.PRINCIPAL, config.svd(), config.niter());
  }
}
