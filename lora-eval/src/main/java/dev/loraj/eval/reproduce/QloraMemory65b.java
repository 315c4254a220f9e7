package dev.loraj.eval.reproduce;

import dev.loraj.eval.memory.MemoryBreakdown;
import dev.loraj.eval.memory.MemoryEstimator;
import dev.loraj.eval.memory.MemorySettings;
import dev.loraj.eval.memory.ModelShape;
import dev.loraj.eval.memory.Precision;
import java.io.IOException;
import java.util.List;
import java.util.Locale;

/**
 * QLoRA (arXiv 2305.14314), abstract and section 1: "reduces the average memory requirements of
 * finetuning a 65B parameter model from >780GB of GPU memory to <48GB". Computed with
 * {@link MemoryEstimator} on the {@code llama-65b} card under QLoRA's stated setup: NF4 with
 * double quantization for every linear layer, bf16 compute dtype, LoRA r = 64 on all linear
 * layers (section 4, the paper's default) with bf16 adapter weights and gradients, paged AdamW
 * with 32-bit states (8 B per trainable parameter), gradient checkpointing, batch 1, sequence
 * 512 (the setting of the paper's Figure 6 memory breakdown). The paged optimizer only matters
 * for spikes (states can move to CPU); here its states are counted on the GPU, the worse case.
 * The >780 GB reading: 16-bit full fine-tuning with bf16 weights and gradients and fp32 Adam
 * moments, 12 B per parameter.
 */
final class QloraMemory65b implements Reproduction {

  static final double GPU_BYTES = 48e9;

  @Override
  public String id() {
    return "qlora-65b-48gb";
  }

  @Override
  public String title() {
    return "QLoRA: fine-tuning LLaMA-65B fits in 48 GB (16-bit full fine-tuning needs > 780 GB)";
  }

  @Override
  public String source() {
    return "QLoRA, arXiv 2305.14314, abstract, section 1 and Figure 6";
  }

  @Override
  public String claim() {
    return "QLoRA reduces the memory for fine-tuning a 65B model from >780 GB to <48 GB of GPU memory.";
  }

  @Override
  public Kind kind() {
    return Kind.EXACT;
  }

  @Override
  public ReproductionResult run(boolean quick) throws IOException {
    ModelShape m = ModelShape.of("llama-65b");
    MemoryEstimator est = new MemoryEstimator();
    MemorySettings qs = MemorySettings.of("qlora", 64, 1, 512).withTargets(List.of("all-linear"))
        .withDtype(Precision.BF16).withOptimizer(MemorySettings.Optimizer.ADAMW).withCheckpointing(true)
        .withDoubleQuant(true);
    MemoryBreakdown q = est.estimate(m, qs);
    MemoryBreakdown full = est.estimate(m, MemorySettings.of("full", 0, 1, 512).withDtype(Precision.BF16)
        .withCheckpointing(true));
    MemoryBreakdown lora16 = est.estimate(m, qs.withVariant("lora"));
    long fullStates = full.frozenBytes() + full.trainableBytes() + full.gradientBytes() + full.optimizerBytes();
    long pagedOut = q.totalBytes() - q.optimizerBytes();
    return ReproductionResult.of(this, quick,
        "MemoryEstimator on the llama-65b card (" + String.format(Locale.ROOT, "%,d", m.totalParams())
            + " parameters): QLoRA NF4 + double quantization, bf16 compute, LoRA r = 64 all linear layers in"
            + " bf16, AdamW 32-bit states, gradient checkpointing, batch 1, sequence 512.",
        List.of(
            Check.of("QLoRA LLaMA-65B training memory", "< 48 GB", gb(q.totalBytes()) + " (" + parts(q) + ")",
                "< 48e9 B", q.totalBytes() < GPU_BYTES, String.format(Locale.ROOT,
                    "%,d trainable parameters; with the paged optimizer's states on the CPU: %s",
                    q.trainableParams(), gb(pagedOut))),
            Check.of("16-bit full fine-tuning, weights + gradients + Adam", "> 780 GB", gb(fullStates)
                + " (12 B/param) + activations " + gb(full.activationBytes()), "> 780e9 B", fullStates > 780e9,
                "bf16 weights and gradients (2 + 2 B) and fp32 Adam m, v (8 B) per parameter; fp32 master"
                    + " weights would add 4 B/param"),
            Check.of("16-bit LoRA (same adapter, bf16 base)", "does not fit (the reason for 4-bit)",
                gb(lora16.totalBytes()), "> 48e9 B", lora16.totalBytes() > GPU_BYTES, "")));
  }

  static String gb(long bytes) {
    return String.format(Locale.ROOT, "%.1f GB", bytes / 1e9);
  }

  static String parts(MemoryBreakdown b) {
    return String.format(Locale.ROOT, "frozen %.1f, trainable %.2f, gradients %.2f, optimizer %.2f,"
            + " activations %.2f, workspace %.2f GB", b.frozenBytes() / 1e9, b.trainableBytes() / 1e9,
        b.gradientBytes() / 1e9, b.optimizerBytes() / 1e9, b.activationBytes() / 1e9, b.workspaceBytes() / 1e9);
  }
}
