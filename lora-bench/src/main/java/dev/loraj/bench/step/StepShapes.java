package dev.loraj.bench.step;

import dev.loraj.core.model.bert.BertConfig;
import dev.loraj.core.model.llama.LlamaModel;
import dev.loraj.core.model.llama.RopeScaling;

/**
 * The model shapes of {@code lora bench step}, the same as {@code scripts/bench/peft_step.py}
 * builds with transformers.
 */
public final class StepShapes {
  private StepShapes() {}

  /** BERT with all-MiniLM-L6-v2's shape (6 x 384, 12 heads, FFN 1536); dropout off (see BertModel). */
  public static BertConfig bert() {
    return new BertConfig(30522, 384, 6, 12, 1536, "gelu", 512, 2, 1e-12, 0.0, 0.0);
  }

  /**
   * BERT-base's shape (12 x 768, 12 heads, FFN 3072, vocab 30522), for the GEMM-heavy shapes
   * (hidden >= 768) of the throughput comparison; dropout off.
   */
  public static BertConfig bertBase() {
    return new BertConfig(30522, 768, 12, 12, 3072, "gelu", 512, 2, 1e-12, 0.0, 0.0);
  }

  /** The BERT shape of {@code arch}. */
  public static BertConfig bert(StepBench.Arch arch) {
    return switch (arch) {
      case BERT -> bert();
      case BERT_BASE -> bertBase();
      case LLAMA -> throw new IllegalArgumentException("llama is not a BERT");
    };
  }

  /** A small Llama: 4 layers, hidden 512, 8 heads (no GQA), SwiGLU 1376, vocab 32000, untied head. */
  public static LlamaModel.Config llama() {
    return new LlamaModel.Config("llama", 32000, 512, 1376, 4, 8, 8, 64, 1e-6,
        RopeScaling.unscaled(10000.0), "silu", false, false, false, false, 0);
  }

  /** Labels of the BERT classification head. */
  public static final int BERT_LABELS = 2;
}
