package dev.loraj.variants.svd;

import dev.loraj.core.adapter.SiteInit;
import dev.loraj.core.lora.LoraAdapter;
import dev.loraj.core.lora.LoraConfig;
import dev.loraj.core.lora.LoraInit;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * A LoRA branch whose init rewrote the frozen base ({@code W_res = W - s B0 A0}); it keeps the
 * init values A0, B0 so the trained adapter can be exported as a plain LoRA on the original W.
 *
 * <p>Export (PiSSA, arXiv 2404.02948, converting a trained PiSSA to LoRA; PEFT's
 * {@code path_initial_model_for_weight_conversion}): with A, B the trained values,
 *
 * <pre>
 *   W_res + s B A = W + s (B A - B0 A0) = W + s' B' A'
 *   A' = [A; A0]       [2r, in]   (rows stacked)
 *   B' = [B, -B0]      [out, 2r]  (columns stacked)
 *   r' = 2r;  alpha' = 2 alpha (s' = alpha'/2r = s), or sqrt(2) alpha under rsLoRA
 *              (s' = alpha'/sqrt(2r) = s)
 * </pre>
 */
public final class ResidualLoraAdapter extends LoraAdapter {

  private final ResidualLoraConfig residualConfig;
  private final INDArray a0; // [r, in]
  private final INDArray b0; // [out, r]

  /** Allocates A and B, runs {@code init} (which rewrites the base) and keeps copies of A0, B0. */
  public ResidualLoraAdapter(ResidualLoraConfig config, LoraInit init, SiteInit site) {
    super(site.site(), config, config.scaling(), config.dropout());
    this.residualConfig = config;
    init.initialize(a, b, scaling, site);
    this.a0 = a.dup();
    this.b0 = b.dup();
  }

  /** A at init, [r, in] (a copy). */
  public INDArray initialA() {
    return a0.dup();
  }

  /** B at init, [out, r] (a copy). */
  public INDArray initialB() {
    return b0.dup();
  }

  /** The config of {@link #exportToLora()}: rank 2r, alpha 2 alpha (sqrt 2 alpha under rsLoRA). */
  public LoraConfig exportedConfig() {
    return exportedConfig(residualConfig);
  }

  static LoraConfig exportedConfig(ResidualLoraConfig c) {
    return new LoraConfig(2 * c.rank(), exportedAlpha(c.alpha(), c.useRslora()), c.dropout(),
        c.useRslora(), LoraConfig.Init.KAIMING, c.bias());
  }

  /** alpha' with s' = s at rank 2r. */
  static double exportedAlpha(double alpha, boolean rslora) {
    return rslora ? alpha * Math.sqrt(2) : 2 * alpha;
  }

  /**
   * A plain LoRA adapter over the original (un-rewritten) base weight whose output equals this
   * adapter's over the residual base, with the current (trained) A and B. New arrays; this
   * adapter is unchanged.
   */
  public LoraAdapter exportToLora() {
    LoraConfig cfg = exportedConfig();
    INDArray a2 = Nd4j.vstack(a, a0).dup('c'); // [2r, in]
    INDArray b2 = Nd4j.hstack(b, b0.neg()).dup('c'); // [out, 2r]
    return new LoraAdapter(site, cfg, cfg.scaling(), cfg.dropout(), a2, b2);
  }
}
