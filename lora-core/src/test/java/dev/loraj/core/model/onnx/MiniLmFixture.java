package dev.loraj.core.model.onnx;

import dev.loraj.core.model.bert.BertCheckpoint;
import dev.loraj.core.model.bert.TokenBatch;
import java.util.List;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * all-MiniLM-L6-v2 loaded once per test JVM: the extracted checkpoint, a tokenized batch of
 * three sentences of different lengths (so rows are padded), and ONNX Runtime's
 * {@code last_hidden_state} for that batch from the original .onnx graph (the reference).
 */
public final class MiniLmFixture {

  /** Sentences of different lengths so the batch has padding. */
  public static final List<String> SENTENCES = List.of(
      "Hello world",
      "LoRA adapts a frozen pretrained model with low-rank updates.",
      "The quick brown fox jumps over the lazy dog, again and again!");

  private static BertCheckpoint checkpoint;
  private static TokenBatch batch;
  private static INDArray ortHidden;

  private MiniLmFixture() {}

  public static synchronized BertCheckpoint checkpoint() throws Exception {
    if (checkpoint == null) {
      long t0 = System.nanoTime();
      checkpoint = MiniLm.loadEmbedded();
      System.out.printf("MiniLm.loadEmbedded: %.2f s (wall, shared machine)%n",
          (System.nanoTime() - t0) / 1e9);
    }
    return checkpoint;
  }

  public static synchronized TokenBatch batch() throws Exception {
    if (batch == null) {
      try (MiniLmTokenizer tokenizer = MiniLm.embeddedTokenizer()) {
        batch = tokenizer.encode(SENTENCES, 128);
      }
    }
    return batch;
  }

  /** ORT's last_hidden_state [batch, seq, 384] for {@link #batch()}. */
  public static synchronized INDArray ortLastHiddenState() throws Exception {
    if (ortHidden == null) {
      try (OrtReference ort = OrtReference.miniLm()) {
        ortHidden = ort.lastHiddenState(batch());
      }
    }
    return ortHidden;
  }
}
