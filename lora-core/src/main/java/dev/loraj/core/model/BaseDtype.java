package dev.loraj.core.model;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonValue;
import dev.loraj.core.io.SafetensorsDtype;
import dev.loraj.core.quant.QuantFormat;
import java.util.Locale;
import java.util.Optional;

/**
 * The type a base model's frozen linear weights are held in. Computation is float32 in every
 * case: a 16-bit weight is widened a block of rows at a time inside its matmul (see
 * {@link dev.loraj.core.quant.QuantizedWeight}), so the model holds 2 bytes a frozen parameter
 * and never a float32 copy of it. Trainable parameters (adapters, heads, fully fine-tuned
 * weights) and optimizer state stay float32 whatever this setting says; embeddings, norms and
 * biases are held in float32 too.
 *
 * <ul>
 *   <li>{@link #AUTO}: the checkpoint's own dtype: a bfloat16 or float16 checkpoint stays 16-bit,
 *       a float32 (or float64) one, or a model that is not read from a checkpoint, float32.</li>
 *   <li>{@link #BF16}, {@link #F16}: that 16-bit type (rounded to nearest even when the
 *       checkpoint is wider, converted when it is the other 16-bit type).</li>
 *   <li>{@link #F32}: float32, widened on load (exact from 16 bits).</li>
 * </ul>
 */
public enum BaseDtype {
  AUTO,
  BF16,
  F16,
  F32;

  /** The spelling in config files and on the command line: {@code auto}, {@code bf16}, ... */
  @JsonValue
  public String json() {
    return name().toLowerCase(Locale.ROOT);
  }

  /** Reads a config or flag value, case-insensitively; the error lists the accepted values. */
  @JsonCreator
  public static BaseDtype parse(String s) {
    for (BaseDtype d : values()) {
      if (d.json().equalsIgnoreCase(s == null ? "" : s.trim())) {
        return d;
      }
    }
    throw new IllegalArgumentException("base_dtype = '" + s + "': accepted auto, bf16, f16, f32");
  }

  /**
   * The 16-bit format frozen weights are held in for a checkpoint tensor of {@code stored}
   * dtype, or empty for float32.
   */
  public Optional<QuantFormat> heldFormat(SafetensorsDtype stored) {
    return switch (this) {
      case BF16 -> Optional.of(QuantFormat.BF16);
      case F16 -> Optional.of(QuantFormat.F16);
      case F32 -> Optional.empty();
      case AUTO -> switch (stored) {
        case BF16 -> Optional.of(QuantFormat.BF16);
        case F16 -> Optional.of(QuantFormat.F16);
        default -> Optional.empty();
      };
    };
  }

  /**
   * The 16-bit format for a model that has no checkpoint dtype (built in memory, or from
   * float32 weights): {@link #AUTO} and {@link #F32} mean float32 (empty).
   */
  public Optional<QuantFormat> heldFormat() {
    return heldFormat(SafetensorsDtype.F32);
  }
}
