package dev.loraj.core.lora;

import dev.loraj.core.adapter.AdapterConfig;
import dev.loraj.core.adapter.BiasMode;

/**
 * Plain LoRA (Hu et al., arXiv 2106.09685): {@code y = W x + s * B A dropout(x)}.
 *
 * @param rank r; PEFT's default 8
 * @param alpha scaling numerator; PEFT's default 8 (so s = 1 at r = 8)
 * @param dropout dropout on the adapter's input only; 0 keeps training deterministic by default
 * @param useRslora {@code s = alpha / sqrt(r)} (rsLoRA, arXiv 2312.03732) instead of alpha / r
 * @param init how A is drawn; B is always zero so the model is unchanged at init
 * @param bias which base biases train with the adapter (PEFT's {@code bias})
 */
public record LoraConfig(
    int rank, double alpha, double dropout, boolean useRslora, Init init, BiasMode bias)
    implements AdapterConfig {

  /** PEFT's {@code init_lora_weights}: true (kaiming) or "gaussian". */
  public enum Init {
    /** A ~ U(-1/sqrt(in), 1/sqrt(in)): torch's kaiming_uniform with a = sqrt(5), PEFT's default. */
    KAIMING,
    /** A ~ N(0, (1/r)^2), as PEFT's "gaussian". The paper says "random Gaussian". */
    GAUSSIAN;

    @com.fasterxml.jackson.annotation.JsonValue
    public String json() {
      return name().toLowerCase(java.util.Locale.ROOT);
    }

    @com.fasterxml.jackson.annotation.JsonCreator
    public static Init parse(String s) {
      for (Init i : values()) {
        if (i.json().equalsIgnoreCase(s)) {
          return i;
        }
      }
      throw new IllegalArgumentException("init = '" + s + "': accepted kaiming, gaussian");
    }
  }

  public LoraConfig {
    checkRankAlpha(rank, alpha);
    if (!(dropout >= 0 && dropout < 1)) {
      throw new IllegalArgumentException("dropout = " + dropout + ": must be in [0, 1)");
    }
    init = init == null ? Init.KAIMING : init;
    bias = bias == null ? BiasMode.NONE : bias;
  }

  public static LoraConfig defaults() {
    return new LoraConfig(8, 8, 0.0, false, Init.KAIMING, BiasMode.NONE);
  }

  public static LoraConfig of(int rank, double alpha) {
    return new LoraConfig(rank, alpha, 0.0, false, Init.KAIMING, BiasMode.NONE);
  }

  @Override
  public LoraConfig withRankAndAlpha(int rank, double alpha) {
    return new LoraConfig(rank, alpha, dropout, useRslora, init, bias);
  }

  public LoraConfig withRslora(boolean on) {
    return new LoraConfig(rank, alpha, dropout, on, init, bias);
  }

  public LoraConfig withDropout(double p) {
    return new LoraConfig(rank, alpha, p, useRslora, init, bias);
  }

  public LoraConfig withInit(Init i) {
    return new LoraConfig(rank, alpha, dropout, useRslora, i, bias);
  }

  public LoraConfig withBias(BiasMode b) {
    return new LoraConfig(rank, alpha, dropout, useRslora, init, b);
  }

  /** s = alpha / r, or alpha / sqrt(r) with rsLoRA. */
  public double scaling() {
    return scaling(rank, alpha, useRslora);
  }

  public static double scaling(int rank, double alpha, boolean rslora) {
    return rslora ? alpha / Math.sqrt(rank) : alpha / rank;
  }

  /** The shared checks of every rank/alpha config: one message naming field, value, accepted. */
  public static void checkRankAlpha(int rank, double alpha) {
    if (rank <= 0) {
      throw new IllegalArgumentException("rank = " + rank + ": must be a positive integer");
    }
    if (!(alpha > 0) || Double.isInfinite(alpha)) {
      throw new IllegalArgumentException("alpha = " + alpha + ": must be a finite number > 0");
    }
  }
}
