package dev.loraj.core.checkpoint;

import dev.loraj.core.adapter.Adapter;
import dev.loraj.core.adapter.AdapterSpec;
import dev.loraj.core.model.PeftModel;
import java.util.Map;

/**
 * A variant factory whose trained adapters are written to PEFT as plain LoRA after a conversion
 * (PiSSA, MiLoRA, OLoRA, CorDA: their base weights were rewritten at init, and the converted
 * adapter applies to the original base instead). The directory's {@code adapter_config.json} is
 * an ordinary LoRA config of the converted spec; {@link #conversionNote} is recorded in
 * {@link PeftAdapters#VARIANT_FILE}.
 */
public interface LoraForm {

  /** {@code adapter} as plain LoRA over the original base. */
  Converted toLora(PeftModel.NamedAdapter adapter);

  /** What was converted and how, for the record beside the adapter. */
  String conversionNote(PeftModel.NamedAdapter adapter);

  /**
   * A converted adapter.
   *
   * @param spec a {@code lora} (or {@code dora}) spec with the converted ranks and alphas
   * @param sites the converted adapters by site path
   */
  record Converted(AdapterSpec spec, Map<String, Adapter> sites) {
    public Converted {
      if (spec == null || sites == null || sites.isEmpty()) {
        throw new IllegalArgumentException("a converted adapter needs a spec and at least one site");
      }
      sites = java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(sites));
    }
  }
}
