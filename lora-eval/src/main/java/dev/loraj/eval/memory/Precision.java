package dev.loraj.eval.memory;

import java.util.Locale;

/** Element types of weights, gradients, activations and optimizer states, with their widths. */
public enum Precision {
  FP32(4),
  FP16(2),
  BF16(2),
  /** bitsandbytes' 8-bit optimizer states (block-wise dynamic quantization). */
  INT8(1);

  private final int bytes;

  Precision(int bytes) {
    this.bytes = bytes;
  }

  public int bytes() {
    return bytes;
  }

  public String json() {
    return name().toLowerCase(Locale.ROOT);
  }

  public static Precision parse(String s) {
    for (Precision p : values()) {
      if (p.json().equalsIgnoreCase(s)) {
        return p;
      }
    }
    throw new IllegalArgumentException("dtype '" + s + "': accepted fp32, fp16, bf16 (int8 for optimizer states)");
  }
}
