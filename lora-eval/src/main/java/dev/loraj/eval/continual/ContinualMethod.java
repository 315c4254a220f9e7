package dev.loraj.eval.continual;

/** The methods the continual runner compares. */
public enum ContinualMethod {
  /** One LoRA fine-tuned through the whole sequence. */
  SEQ_LORA("seq-lora"),
  /** O-LoRA (arXiv 2310.14152): a LoRA per task, orthogonal to the earlier (merged) ones. */
  O_LORA("o-lora"),
  /** AM-LoRA (arXiv 2409.19611): attention mixture over per-task LoRAs. */
  AM_LORA("am-lora"),
  /** Upper bound: a LoRA per task, the right one chosen by task id at test time. */
  PER_TASK("per-task"),
  /** Upper bound: one LoRA trained on all tasks jointly (no sequence). */
  MULTI_TASK("multi-task");

  private final String id;

  ContinualMethod(String id) {
    this.id = id;
  }

  public String id() {
    return id;
  }

  public static ContinualMethod parse(String s) {
    for (ContinualMethod m : values()) {
      if (m.id.equalsIgnoreCase(s)) {
        return m;
      }
    }
    throw new IllegalArgumentException("method '" + s + "': accepted seq-lora, o-lora, am-lora, per-task, multi-task");
  }
}
