package dev.loraj.core.checkpoint;

/**
 * A variant factory whose adapters PEFT cannot represent. {@link PeftAdapters#save} refuses them
 * with {@link #noPeftFormReason()}; {@link PeftAdapters#saveOwn} writes them in this framework's
 * own format.
 */
public interface NoPeftForm {

  /** Why no PEFT adapter type holds this variant's state (one sentence). */
  String noPeftFormReason();
}
