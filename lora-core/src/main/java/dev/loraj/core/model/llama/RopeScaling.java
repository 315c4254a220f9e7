package dev.loraj.core.model.llama;

import com.fasterxml.jackson.databind.JsonNode;
import dev.loraj.core.model.HfConfig;
import java.util.Locale;

/**
 * How a checkpoint scales its rotary frequencies for contexts longer than it was trained on, as
 * transformers' {@code ROPE_INIT_FUNCTIONS} compute them ({@code modeling_rope_utils}):
 * <ul>
 *   <li>{@code default}: {@code inv_freq[i] = 1 / theta^(2i / d)};
 *   <li>{@code linear} (position interpolation, arXiv 2306.15595): {@code inv_freq / factor};
 *   <li>{@code llama3} (Llama 3.1/3.2): wavelengths {@code 2 pi / inv_freq} shorter than
 *       {@code original_max_position_embeddings / high_freq_factor} are kept, those longer than
 *       {@code original_max_position_embeddings / low_freq_factor} are divided by {@code factor},
 *       and the band between is interpolated with
 *       {@code s = (L / wavelen - low) / (high - low)}:
 *       {@code (1 - s) inv_freq / factor + s inv_freq}.
 * </ul>
 * All three leave the attention scaling at 1. Read from both forms found in checkpoints:
 * transformers 5's {@code rope_parameters} (holding {@code rope_theta} and {@code rope_type}) and
 * transformers 4's {@code rope_scaling} (with {@code rope_type} or the older {@code type}) beside
 * a top-level {@code rope_theta}. Other types ({@code dynamic}, {@code yarn}, {@code longrope})
 * are refused with their name.
 *
 * @param theta base of the rotary angles
 * @param type {@code default}, {@code linear} or {@code llama3}
 * @param factor context extension factor (1 for default)
 * @param lowFreqFactor llama3's {@code low_freq_factor}
 * @param highFreqFactor llama3's {@code high_freq_factor}
 * @param originalContext llama3's {@code original_max_position_embeddings}
 */
public record RopeScaling(double theta, String type, double factor, double lowFreqFactor,
    double highFreqFactor, int originalContext) {

  public static final String DEFAULT = "default";
  public static final String LINEAR = "linear";
  public static final String LLAMA3 = "llama3";

  public RopeScaling {
    if (!(theta > 1)) {
      throw new IllegalArgumentException("rope_theta = " + theta + ": must be > 1");
    }
    if (!type.equals(DEFAULT) && !type.equals(LINEAR) && !type.equals(LLAMA3)) {
      throw new IllegalArgumentException("rope type '" + type + "' is not supported; supported: "
          + DEFAULT + ", " + LINEAR + ", " + LLAMA3);
    }
    if (!type.equals(DEFAULT) && !(factor >= 1)) {
      throw new IllegalArgumentException("rope factor = " + factor + ": must be >= 1");
    }
    if (type.equals(LLAMA3) && !(highFreqFactor > lowFreqFactor && lowFreqFactor > 0 && originalContext > 0)) {
      throw new IllegalArgumentException("llama3 rope scaling needs high_freq_factor > low_freq_factor > 0"
          + " and original_max_position_embeddings > 0; got " + highFreqFactor + ", " + lowFreqFactor
          + ", " + originalContext);
    }
  }

  /** Unscaled rotary embeddings with base {@code theta}. */
  public static RopeScaling unscaled(double theta) {
    return new RopeScaling(theta, DEFAULT, 1, 0, 0, 0);
  }

  /** Llama 3's scaling with the given parameters. */
  public static RopeScaling llama3(double theta, double factor, double low, double high, int originalContext) {
    return new RopeScaling(theta, LLAMA3, factor, low, high, originalContext);
  }

  /** From a model's {@code config.json} in either of the forms transformers writes. */
  public static RopeScaling from(HfConfig c) {
    double theta = c.number(10000.0, "rope_theta");
    for (String field : new String[] {"rope_parameters", "rope_scaling"}) {
      JsonNode rp = c.object(field);
      if (rp == null) {
        continue;
      }
      if (rp.has("rope_theta")) {
        theta = rp.get("rope_theta").asDouble();
      }
      String type = rp.path("rope_type").asText(rp.path("type").asText(DEFAULT)).toLowerCase(Locale.ROOT);
      if (!type.equals(DEFAULT) && !type.equals(LINEAR) && !type.equals(LLAMA3)) {
        throw new IllegalArgumentException(c.source() + ": " + field + ".rope_type = '" + type
            + "' is not supported; supported: " + DEFAULT + ", " + LINEAR + ", " + LLAMA3);
      }
      return new RopeScaling(theta, type,
          rp.path("factor").asDouble(1.0),
          rp.path("low_freq_factor").asDouble(1.0),
          rp.path("high_freq_factor").asDouble(4.0),
          rp.path("original_max_position_embeddings").asInt(
              c.positiveInt(0, "original_max_position_embeddings")));
    }
    return unscaled(theta);
  }

  /** The rotary inverse frequencies for head dimension {@code dim}: {@code dim / 2} values. */
  public float[] inverseFrequencies(int dim) {
    float[] inv = new float[dim / 2];
    for (int i = 0; i < inv.length; i++) {
      // as transformers: 1 / theta^(arange(0, d, 2) / d), the exponent in float32
      double f = 1.0 / Math.pow(theta, (float) (2 * i) / dim);
      inv[i] = (float) switch (type) {
        case LINEAR -> (float) f / factor;
        case LLAMA3 -> llama3((float) f);
        default -> f;
      };
    }
    return inv;
  }

  private double llama3(float inv) {
    double wavelen = 2 * Math.PI / inv;
    double lowFreqWavelen = originalContext / lowFreqFactor;
    double highFreqWavelen = originalContext / highFreqFactor;
    if (wavelen < highFreqWavelen) {
      return inv;
    }
    if (wavelen > lowFreqWavelen) {
      return inv / factor;
    }
    double smooth = (originalContext / wavelen - lowFreqFactor) / (highFreqFactor - lowFreqFactor);
    return (1 - smooth) * inv / factor + smooth * inv;
  }
}
