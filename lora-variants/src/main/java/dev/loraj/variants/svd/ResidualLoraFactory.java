package dev.loraj.variants.svd;

import dev.loraj.core.adapter.Adapter;
import dev.loraj.core.adapter.AdapterFactory;
import dev.loraj.core.adapter.SiteInit;
import dev.loraj.core.checkpoint.LoraForm;
import dev.loraj.core.lora.LoraInit;
import dev.loraj.core.model.LinearSite;
import dev.loraj.core.model.PeftModel;

/**
 * The factory shape of PiSSA, MiLoRA, OLoRA and CorDA: a LoRA branch plus an init strategy that
 * rewrites the base. A subclass names the variant and picks the {@link LoraInit} for a config.
 * PEFT receives the adapter converted by {@link LoraExport} to plain LoRA over the original base
 * (PEFT's own {@code path_initial_model_for_weight_conversion} does the same conversion).
 */
public abstract class ResidualLoraFactory<C extends ResidualLoraConfig>
    implements AdapterFactory<C>, LoraForm {

  /** The init strategy for {@code config}. */
  protected abstract LoraInit initFor(C config);

  @Override
  public Adapter create(C config, SiteInit init) {
    return new ResidualLoraAdapter(config, initFor(config), init);
  }

  /** r (in + out): A and B, as LoRA. */
  @Override
  public long trainableParameters(C config, LinearSite site) {
    return (long) config.rank() * (site.in() + site.out());
  }

  @Override
  public LoraForm.Converted toLora(PeftModel.NamedAdapter adapter) {
    LoraExport export = LoraExport.of(adapter);
    return new LoraForm.Converted(export.spec(), export.sites());
  }

  @Override
  public String conversionNote(PeftModel.NamedAdapter adapter) {
    return name() + " adapter converted to plain LoRA for the original base weights (not the"
        + " residual base it was trained on): A' = [A; A0], B' = [B, -B0], rank 2r, alpha 2 alpha"
        + " (sqrt(2) alpha with rsLoRA), so s' B' A' = s (B A - B0 A0)";
  }

  /** The base becomes the residual {@code W - s B A}. */
  @Override
  public boolean rewritesBase(C config) {
    return true;
  }
}
