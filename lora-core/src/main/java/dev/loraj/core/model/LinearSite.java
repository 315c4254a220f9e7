package dev.loraj.core.model;

import java.util.OptionalInt;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A named linear layer of a base model: the place an adapter attaches to. A token-embedding table
 * is one too ({@link #embedding()}): a lookup of row {@code id} of E [num_embeddings, dim] is the
 * linear map of the one-hot vector of {@code id}, so it is a site with {@code in = num_embeddings},
 * {@code out = dim} and the weight stored [in, out], and an update {@code dW} [out, in] merges
 * into E as {@code dW^T}, which is PEFT's {@code lora.Embedding}.
 *
 * @param path the Hugging Face module path ({@code encoder.layer.0.attention.self.query})
 * @param in input features
 * @param out output features
 * @param fanInFanOut the weight is stored [in, out] (GPT-2's Conv1D) instead of [out, in]
 * @param outputHead the model's output projection (excluded by {@code all-linear}); for an
 *     embedding, that the output head reuses this table ({@code tie_word_embeddings})
 * @param hasBias whether {@code path + ".bias"} exists
 * @param embedding a token-embedding table, whose input is token ids rather than features
 *     (never selected by {@code all-linear}, only by name or regex)
 */
public record LinearSite(
    String path, int in, int out, boolean fanInFanOut, boolean outputHead, boolean hasBias,
    boolean embedding) {

  private static final Pattern LAYER_INDEX = Pattern.compile("\\.(\\d+)(\\.|$)");

  public LinearSite {
    if (in <= 0 || out <= 0) {
      throw new IllegalArgumentException("linear site " + path + " has shape in=" + in + " out=" + out);
    }
    if (embedding && (!fanInFanOut || hasBias)) {
      throw new IllegalArgumentException("embedding site " + path + " must be stored [num_embeddings, dim]"
          + " (fanInFanOut) without a bias");
    }
  }

  /** A linear layer (not an embedding). */
  public LinearSite(String path, int in, int out, boolean fanInFanOut, boolean outputHead, boolean hasBias) {
    this(path, in, out, fanInFanOut, outputHead, hasBias, false);
  }

  /**
   * The token-embedding table {@code path} (weight {@code path + ".weight"} [numEmbeddings, dim]);
   * {@code tiedToHead}: the output head computes {@code h E^T} with the same table.
   */
  public static LinearSite embedding(String path, int numEmbeddings, int dim, boolean tiedToHead) {
    return new LinearSite(path, numEmbeddings, dim, true, tiedToHead, false, true);
  }

  public String weightName() {
    return path + ".weight";
  }

  public String biasName() {
    return path + ".bias";
  }

  /**
   * Whether the base's held copy of this weight (quantized or 16-bit) is the transpose of the
   * stored one: held weights are [out, in], except an embedding table, held as stored
   * ([num_embeddings, dim]) so that a lookup reads rows.
   */
  public boolean heldTransposed() {
    return fanInFanOut && !embedding;
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
