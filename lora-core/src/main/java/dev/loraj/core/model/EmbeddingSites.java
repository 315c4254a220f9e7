package dev.loraj.core.model;

import dev.loraj.core.adapter.AdapterFactory;
import java.util.Collection;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The rules for adapters on token-embedding tables ({@link LinearSite#embedding()}), kept apart
 * from {@link PeftModel}: which variants may adapt them, and what merging does where the output
 * head shares the table.
 *
 * <p>Tied tables follow PEFT 0.21 with its default {@code ensure_weight_tying = false}: the
 * adapter wraps the input embedding only, and the head keeps computing with the shared weight
 * itself. Unmerged, the head therefore sees the original table {@code E} while the input side
 * sees {@code E + dW}; merging writes {@code E + dW} into the shared weight, so from then on the
 * head sees it too and the merged model's logits differ from the unmerged model's. PEFT warns
 * about exactly this when merging; so does {@link #warnTiedMerge}. Unmerging restores {@code E}.
 */
public final class EmbeddingSites {
  private EmbeddingSites() {}

  private static final Logger log = LoggerFactory.getLogger(EmbeddingSites.class);

  /**
   * Refuses {@code factory} at the embedding sites among {@code selected} unless it adapts
   * embeddings ({@link AdapterFactory#adaptsEmbeddings()}).
   */
  public static void check(AdapterFactory<?> factory, List<LinearSite> selected) {
    if (factory.adaptsEmbeddings()) {
      return;
    }
    List<String> tables = selected.stream().filter(LinearSite::embedding).map(LinearSite::path).toList();
    if (!tables.isEmpty()) {
      throw new IllegalArgumentException("variant '" + factory.name() + "' cannot adapt the embedding"
          + " table(s) " + tables + ": only lora and rslora have an embedding form (PEFT's"
          + " lora_embedding_A/B); target linear modules only, or use lora there");
    }
  }

  /** Logs PEFT's warning when {@code adapted} holds an embedding table the output head shares. */
  static void warnTiedMerge(String adapter, Collection<LinearSite> adapted) {
    for (LinearSite s : adapted) {
      if (s.embedding() && s.outputHead()) {
        log.warn("merging adapter '{}' into '{}', which the output head shares (tied word"
            + " embeddings): the head sees the adapted table only once merged, so the merged"
            + " logits differ from the unmerged ones (as in PEFT)", adapter, s.path());
      }
    }
  }
}
