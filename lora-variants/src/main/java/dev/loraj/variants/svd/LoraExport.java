package dev.loraj.variants.svd;

import dev.loraj.core.adapter.Adapter;
import dev.loraj.core.adapter.AdapterSpec;
import dev.loraj.core.model.PeftModel;
import dev.loraj.core.model.Targets;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A whole base-rewriting adapter (PiSSA, MiLoRA, OLoRA, CorDA) as a plain LoRA adapter for the
 * original base model, site by site through {@link ResidualLoraAdapter#exportToLora()}. The
 * result can be put into a {@link PeftModel} over the original weights
 * ({@link PeftModel#putAdapter}) or written as a PEFT LoRA checkpoint.
 *
 * @param spec plain LoRA config with rank 2r and alpha 2 alpha (sqrt 2 alpha under rsLoRA), the
 *     same targets, and rank/alpha patterns mapped the same way
 * @param sites the exported adapters by site path
 */
public record LoraExport(AdapterSpec spec, Map<String, Adapter> sites) {

  /**
   * Exports {@code adapter} (its current, trained values).
   *
   * @throws IllegalArgumentException if the adapter was not created by a factory of this package
   */
  public static LoraExport of(PeftModel.NamedAdapter adapter) {
    if (!(adapter.spec().config() instanceof ResidualLoraConfig cfg)) {
      throw new IllegalArgumentException(
          "adapter '" + adapter.name() + "' has a " + adapter.spec().config().getClass().getSimpleName()
              + "; export to plain LoRA applies to pissa, milora, olora and corda adapters");
    }
    Map<String, Adapter> sites = new LinkedHashMap<>();
    adapter.sites().forEach((path, a) -> sites.put(path, ((ResidualLoraAdapter) a).exportToLora()));
    Targets t = adapter.spec().targets();
    Map<String, Integer> ranks = new LinkedHashMap<>();
    t.rankPattern().forEach((k, r) -> ranks.put(k, 2 * r));
    Map<String, Double> alphas = new LinkedHashMap<>();
    t.alphaPattern().forEach((k, al) -> alphas.put(k, ResidualLoraAdapter.exportedAlpha(al, cfg.useRslora())));
    Targets exported = t.withRankPattern(ranks).withAlphaPattern(alphas);
    return new LoraExport(new AdapterSpec(ResidualLoraAdapter.exportedConfig(cfg), exported), sites);
  }
}
