package dev.loraj.variants.svd;

import dev.loraj.core.adapter.Adapter;
import dev.loraj.core.adapter.AdapterFactory;
import dev.loraj.core.adapter.SiteInit;
import dev.loraj.core.lora.LoraInit;
import dev.loraj.core.model.LinearSite;

/**
 * The factory shape of PiSSA, MiLoRA, OLoRA and CorDA: a LoRA branch plus an init strategy that
 * rewrites the base. A subclass names the variant and picks the {@link LoraInit} for a config.
 */
public abstract class ResidualLoraFactory<C extends ResidualLoraConfig> implements AdapterFactory<C> {

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

  /** The base becomes the residual {@code W - s B A}. */
  @Override
  public boolean rewritesBase(C config) {
    return true;
  }
}
