package dev.loraj.variants.svd;

import dev.loraj.core.adapter.AdapterConfig;
import dev.loraj.core.lora.LoraConfig;

/**
 * What the base-rewriting LoRA inits of this package (PiSSA, MiLoRA, OLoRA, CorDA) share: a plain
 * LoRA branch {@code s * B A dropout(x)} whose A and B are set from the base weight, which is
 * replaced by a residual. Only the init differs; the forward is LoRA's.
 */
public interface ResidualLoraConfig extends AdapterConfig {

  /** Dropout on the adapter's input; 0 by default (deterministic training). */
  double dropout();

  /** {@code s = alpha / sqrt(r)} (rsLoRA, arXiv 2312.03732) instead of {@code alpha / r}. */
  boolean useRslora();

  /** s = alpha / r, or alpha / sqrt(r) with rsLoRA. */
  default double scaling() {
    return LoraConfig.scaling(rank(), alpha(), useRslora());
  }

  /** The common checks: rank and alpha as LoRA's, dropout in [0, 1). */
  static void check(int rank, double alpha, double dropout) {
    LoraConfig.checkRankAlpha(rank, alpha);
    if (!(dropout >= 0 && dropout < 1)) {
      throw new IllegalArgumentException("dropout = " + dropout + ": must be in [0, 1)");
    }
  }
}
