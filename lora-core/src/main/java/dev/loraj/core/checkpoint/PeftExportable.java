package dev.loraj.core.checkpoint;

import java.util.Map;

/**
 * A variant config that knows its PEFT {@code LoraConfig} spelling. {@link PeftAdapters#save}
 * writes these fields over the ones it derives itself ({@code r} from {@code rank()},
 * {@code lora_alpha} from {@code alpha()}, and {@code lora_dropout}, {@code use_rslora},
 * {@code bias} from config fields of those names), so a variant needs this only when PEFT names
 * something differently or needs an extra flag (e.g. {@code "use_dora": true}).
 */
public interface PeftExportable {

  /** PEFT field name to JSON-compatible value (String, Number, Boolean, List, Map or null). */
  Map<String, Object> peftConfigFields();
}
