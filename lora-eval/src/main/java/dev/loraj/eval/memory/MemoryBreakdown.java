package dev.loraj.eval.memory;

import java.util.List;
import java.util.Locale;

/**
 * An analytic training-memory estimate, bytes per category. {@code total} is their sum.
 *
 * @param model the model shape's name
 * @param settings what was assumed
 * @param totalParams every parameter of the base model
 * @param trainableParams parameters the optimizer updates
 * @param frozenBytes dense frozen base weights and frozen adapter buffers
 * @param quantizedBytes quantized base weights: codes, block scales, double-quantization state
 * @param trainableBytes trainable parameters in the weight dtype (plus an fp32 master copy if asked)
 * @param gradientBytes one gradient per trainable parameter, in the weight dtype
 * @param optimizerBytes optimizer state
 * @param activationBytes stored activations ({@link ActivationModel}), logits included
 * @param workspaceBytes transient buffers (a dequantized weight, DoRA's dense W + s B A)
 * @param activationFormula the activation formula used, in words
 * @param notes assumptions worth reading next to the numbers
 */
public record MemoryBreakdown(String model, MemorySettings settings, long totalParams, long trainableParams,
    long frozenBytes, long quantizedBytes, long trainableBytes, long gradientBytes, long optimizerBytes, long activationBytes,
    long workspaceBytes, String activationFormula, List<String> notes) {

  public MemoryBreakdown {
    notes = List.copyOf(notes);
  }

  public long totalBytes() {
    return frozenBytes + quantizedBytes + trainableBytes + gradientBytes + optimizerBytes + activationBytes + workspaceBytes;
  }

  /**
   * Bytes by ledger category ({@code frozen, quantized, trainable, gradients, optimizer,
   * activations}; the workspace is part of the activations, the step's working set), as the
   * measured ledger names them.
   */
  public java.util.Map<String, Long> byCategory() {
    java.util.Map<String, Long> m = new java.util.LinkedHashMap<>();
    m.put("frozen", frozenBytes);
    m.put("quantized", quantizedBytes);
    m.put("trainable", trainableBytes);
    m.put("gradients", gradientBytes);
    m.put("optimizer", optimizerBytes);
    m.put("activations", activationBytes + workspaceBytes);
    return m;
  }

  /** A plain-text table, GB = 1e9 bytes and GiB = 2^30 bytes. */
  public String table() {
    StringBuilder sb = new StringBuilder();
    sb.append(String.format(Locale.ROOT, "%s, %s r=%d, batch %d x seq %d, %s, %s%s%n", model, settings.variant(),
        settings.rank(), settings.batch(), settings.seq(), settings.dtype().json(), settings.optimizer().id(),
        settings.checkpointing() ? ", gradient checkpointing" : ""));
    sb.append(String.format(Locale.ROOT, "parameters: %,d total, %,d trainable%n", totalParams, trainableParams));
    row(sb, "frozen weights", frozenBytes);
    row(sb, "quantized weights", quantizedBytes);
    row(sb, "trainable weights", trainableBytes);
    row(sb, "gradients", gradientBytes);
    row(sb, "optimizer state", optimizerBytes);
    row(sb, "activations", activationBytes);
    row(sb, "workspace", workspaceBytes);
    row(sb, "total", totalBytes());
    sb.append("activations: ").append(activationFormula).append('\n');
    notes.forEach(n -> sb.append("- ").append(n).append('\n'));
    return sb.toString();
  }

  private static void row(StringBuilder sb, String what, long bytes) {
    sb.append(String.format(Locale.ROOT, "  %-18s %,22d B %12.3f GB %12.3f GiB%n", what, bytes, bytes / 1e9,
        bytes / (double) (1L << 30)));
  }
}
