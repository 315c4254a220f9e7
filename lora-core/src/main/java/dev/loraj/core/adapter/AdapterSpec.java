package dev.loraj.core.adapter;

import dev.loraj.core.model.Targets;

/** A variant config plus where it goes: everything needed to add one named adapter. */
public record AdapterSpec(AdapterConfig config, Targets targets) {
  public AdapterSpec {
    if (config == null || targets == null) {
      throw new IllegalArgumentException("an adapter spec needs a config and targets");
    }
  }
}
