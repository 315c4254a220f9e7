package dev.loraj.eval.memory;

import java.util.List;
import java.util.Locale;

/**
 * What a memory estimate assumes.
 *
 * @param variant {@code full} (full fine-tuning) or a registered adapter name (lora, dora, vera,
 *     adalora, qlora, loftq, qpissa, ...)
 * @param rank r of the adapter (ignored by full)
 * @param targets target names or aliases (query, value, ..., all-linear); null = the variant's
 *     paper default (all-linear for the quantized variants, query,value otherwise)
 * @param batch micro-batch b
 * @param seq sequence length s
 * @param dtype weights, trainable parameters, gradients and activations (compute dtype; the
 *     quantized variants store their frozen linear weights in NF4 and compute in this dtype)
 * @param optimizer optimizer state per trainable parameter
 * @param masterWeights keep an fp32 copy of trainable parameters (mixed precision) when dtype is
 *     16-bit
 * @param checkpointing gradient checkpointing (full recomputation) of every layer
 * @param doubleQuant quantized variants: double quantization of the block scales
 */
public record MemorySettings(String variant, int rank, List<String> targets, long batch, long seq,
    Precision dtype, Optimizer optimizer, boolean masterWeights, boolean checkpointing,
    boolean doubleQuant) {

  /** Optimizer state per trainable parameter. */
  public enum Optimizer {
    /** Adam/AdamW, moments m and v in fp32 (PyTorch's default; bitsandbytes' 32-bit paged AdamW). */
    ADAMW("adamw", 8),
    /** Adam moments held in the 16-bit weight dtype. */
    ADAMW_16BIT("adamw-16bit", 4),
    /** bitsandbytes 8-bit Adam (block-wise quantized moments; block scales neglected). */
    ADAMW_8BIT("adamw-8bit", 2),
    /** Plain SGD: no state. */
    SGD("sgd", 0);

    private final String id;
    private final int bytes;

    Optimizer(String id, int bytes) {
      this.id = id;
      this.bytes = bytes;
    }

    public String id() {
      return id;
    }

    public int bytesPerParam() {
      return bytes;
    }

    public static Optimizer parse(String s) {
      for (Optimizer o : values()) {
        if (o.id.equalsIgnoreCase(s)) {
          return o;
        }
      }
      throw new IllegalArgumentException("optimizer '" + s + "': accepted adamw, adamw-16bit, adamw-8bit, sgd");
    }
  }

  public MemorySettings {
    if (variant == null || variant.isBlank()) {
      throw new IllegalArgumentException("variant: required (full or an adapter name)");
    }
    variant = variant.toLowerCase(Locale.ROOT);
    if (batch <= 0 || seq <= 0) {
      throw new IllegalArgumentException("batch = " + batch + ", seq = " + seq + ": both must be > 0");
    }
    if (!variant.equals("full") && !variant.equals(MemoryEstimator.HEAD_ONLY) && rank <= 0) {
      throw new IllegalArgumentException("rank = " + rank + ": must be > 0 for variant " + variant);
    }
    targets = targets == null ? null : List.copyOf(targets);
    dtype = dtype == null ? Precision.FP32 : dtype;
    optimizer = optimizer == null ? Optimizer.ADAMW : optimizer;
  }

  /** Defaults: fp32, AdamW, no master copy, no checkpointing, double quantization on. */
  public static MemorySettings of(String variant, int rank, long batch, long seq) {
    return new MemorySettings(variant, rank, null, batch, seq, Precision.FP32, Optimizer.ADAMW, false, false, true);
  }

  public MemorySettings withVariant(String v) {
    return new MemorySettings(v, rank, targets, batch, seq, dtype, optimizer, masterWeights, checkpointing, doubleQuant);
  }

  public MemorySettings withTargets(List<String> t) {
    return new MemorySettings(variant, rank, t, batch, seq, dtype, optimizer, masterWeights, checkpointing, doubleQuant);
  }

  public MemorySettings withDtype(Precision p) {
    return new MemorySettings(variant, rank, targets, batch, seq, p, optimizer, masterWeights, checkpointing, doubleQuant);
  }

  public MemorySettings withOptimizer(Optimizer o) {
    return new MemorySettings(variant, rank, targets, batch, seq, dtype, o, masterWeights, checkpointing, doubleQuant);
  }

  public MemorySettings withMasterWeights(boolean on) {
    return new MemorySettings(variant, rank, targets, batch, seq, dtype, optimizer, on, checkpointing, doubleQuant);
  }

  public MemorySettings withCheckpointing(boolean on) {
    return new MemorySettings(variant, rank, targets, batch, seq, dtype, optimizer, masterWeights, on, doubleQuant);
  }

  public MemorySettings withDoubleQuant(boolean on) {
    return new MemorySettings(variant, rank, targets, batch, seq, dtype, optimizer, masterWeights, checkpointing, on);
  }

  public boolean quantized() {
    return variant.equals("qlora") || variant.equals("loftq") || variant.equals("qpissa");
  }
}
