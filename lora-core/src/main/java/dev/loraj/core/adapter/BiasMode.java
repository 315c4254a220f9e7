package dev.loraj.core.adapter;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonValue;
import java.util.Locale;

/** PEFT's {@code bias}: which base biases are trained alongside the adapter. */
public enum BiasMode {
  NONE, ALL, LORA_ONLY;

  @JsonValue
  public String json() {
    return name().toLowerCase(Locale.ROOT);
  }

  @JsonCreator
  public static BiasMode parse(String s) {
    for (BiasMode m : values()) {
      if (m.json().equalsIgnoreCase(s)) {
        return m;
      }
    }
    throw new IllegalArgumentException("bias = '" + s + "': accepted none, all, lora_only");
  }
}
