package dev.loraj.variants.svd;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonValue;
import java.util.Locale;

/** Which SVD an init uses ({@code svd: exact | randomized} in a config file). */
public enum SvdMethod {
  /** Full thin SVD (LAPACK sgesdd): every triplet, exact to float rounding. */
  EXACT,
  /**
   * Randomized subspace iteration (Halko et al. 2011), top r triplets only: PEFT's fast PiSSA
   * ({@code init_lora_weights="pissa_niter_k"}, {@code torch.svd_lowrank} without oversampling).
   */
  RANDOMIZED;

  @JsonValue
  public String json() {
    return name().toLowerCase(Locale.ROOT);
  }

  @JsonCreator
  public static SvdMethod parse(String s) {
    for (SvdMethod m : values()) {
      if (m.json().equalsIgnoreCase(s)) {
        return m;
      }
    }
    throw new IllegalArgumentException("svd = '" + s + "': accepted exact, randomized");
  }
}
