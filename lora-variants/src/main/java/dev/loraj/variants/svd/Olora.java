package dev.loraj.variants.svd;

import dev.loraj.core.lora.LoraInit;

/**
 * OLoRA (Büyükakyüz, arXiv 2406.01775): LoRA started from the QR decomposition of W, B with
 * orthonormal columns; the equations and the orientation are in {@link OloraInit}.
 */
public final class Olora extends ResidualLoraFactory<OloraConfig> {

  @Override
  public String name() {
    return "olora";
  }

  @Override
  public String description() {
    return "OLoRA: LoRA from the QR of W (B = Q_r, A = R_r), base = residual (arXiv 2406.01775)";
  }

  @Override
  public Class<OloraConfig> configType() {
    return OloraConfig.class;
  }

  @Override
  public OloraConfig defaultConfig() {
    return OloraConfig.defaults();
  }

  @Override
  protected LoraInit initFor(OloraConfig config) {
    return OloraInit.INSTANCE;
  }
}
