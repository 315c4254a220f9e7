package dev.loraj.core.model;

import java.util.OptionalInt;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A named linear layer of a base model: the place an adapter attaches to.
 *
 * @param path the Hugging Face module path ({@code encoder.layer.0.attention.self.query})
 * @param in input features
 * @param out output features
 * @param fanInFanOut the weight is stored [in, out] (GPT-2's Conv1D) instead of [out, in]
 * @param outputHead the model's output projection (excluded by {@code all-linear})
 * @param hasBias whether {@code path + ".bias"} exists
 */
public record LinearSite(
    String path, int in, int out, boolean fanInFanOut, boolean outputHead, boolean hasBias) {

  private static final Pattern LAYER_INDEX = Pattern.compile("\\.(\\d+)(\\.|$)");

  public LinearSite {
    if (in <= 0 || out <= 0) {
      throw new IllegalArgumentException("linear site " + path + " has shape in=" + in + " out=" + out);
    }
  }

  public String weightName() {
    return path + ".weight";
  }

  public String biasName() {
    return path + ".bias";
  }

  /** Stored shape of the weight: [out, in], or [in, out] with fan_in_fan_out. */
  public long[] weightShape() {
    return fanInFanOut ? new long[] {in, out} : new long[] {out, in};
  }

  /** The first number in the dotted path (the transformer block index), if any. */
  public OptionalInt layerIndex() {
    Matcher m = LAYER_INDEX.matcher(path);
    return m.find() ? OptionalInt.of(Integer.parseInt(m.group(1))) : OptionalInt.empty();
  }

  /** Last path component ({@code query}). */
  public String leafName() {
    int dot = path.lastIndexOf('.');
    return dot < 0 ? path : path.substring(dot + 1);
  }
}
