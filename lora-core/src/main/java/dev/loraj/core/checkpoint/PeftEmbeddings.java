package dev.loraj.core.checkpoint;

import com.fasterxml.jackson.databind.JsonNode;
import dev.loraj.core.adapter.Adapter;
import dev.loraj.core.io.TensorSource;
import dev.loraj.core.model.LinearSite;
import dev.loraj.core.model.PeftModel;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Collection;
import java.util.Set;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * What a PEFT directory with an adapter on an embedding table may hold beyond the adapter's
 * {@code lora_embedding_A} / {@code lora_embedding_B}, as PEFT 0.21 writes it.
 *
 * <ul>
 *   <li>{@code save_pretrained}'s default {@code save_embedding_layers="auto"} also writes the
 *       frozen table as {@code base_model.model.<path>.base_layer.weight} when
 *       {@code target_modules} names {@code embed_tokens} (meant for resized vocabularies);
 *       {@code from_pretrained} copies it into the model. Here it is read and must equal the
 *       model's table (the same values, so nothing to copy); a different table is refused, since
 *       the adapter was trained over another base. {@link PeftAdapters#save} does not write it
 *       (PEFT's {@code save_embedding_layers=False}): PEFT loads the adapter either way.</li>
 *   <li>{@code ensure_weight_tying=true} with a tied table also puts LoRA on the output head,
 *       tied to the embedding's; that form is refused with the reason.</li>
 * </ul>
 */
final class PeftEmbeddings {
  private PeftEmbeddings() {}

  /** Suffix of the frozen table's key under the adapted module. */
  static final String BASE_LAYER = ".base_layer.weight";

  /**
   * Checks {@code config} (may be null: the framework's own format) and the saved tables in
   * {@code file} against {@code model}, and marks those tables used.
   */
  static void check(PeftModel model, JsonNode config, Collection<Adapter> adapted, TensorSource file,
      Path dir, Set<String> unused) {
    for (Adapter a : adapted) {
      LinearSite site = a.site();
      if (!site.embedding()) {
        continue;
      }
      if (config != null && site.outputHead() && config.path("ensure_weight_tying").asBoolean(false)) {
        throw new IllegalArgumentException(dir.resolve(PeftAdapters.CONFIG_FILE) + ": ensure_weight_tying = true"
            + " with the tied embedding '" + site.path() + "' adapts the output head through the embedding's"
            + " adapter, which is not supported here; save the adapter with ensure_weight_tying=false (the"
            + " default: the head keeps the original table until merged)");
      }
      String key = PeftAdapters.KEY_PREFIX + site.path() + BASE_LAYER;
      if (!file.contains(key)) {
        continue;
      }
      INDArray saved = file.getFloat(key);
      INDArray table = model.base().weights().get(site.weightName());
      if (table == null) { // held in 16 bits, as stored
        table = model.base().quantizedWeights().get(site.weightName()).dequantize();
      }
      if (!Arrays.equals(saved.shape(), table.shape()) || !saved.equals(table)) {
        throw new IllegalArgumentException(dir.resolve(PeftAdapters.WEIGHTS_BASE + ".safetensors") + ": '"
            + key + "' " + Arrays.toString(saved.shape()) + " is an embedding table that differs from the"
            + " model's '" + site.weightName() + "' " + Arrays.toString(table.shape()) + "; load the base"
            + " model this adapter was trained on (PEFT would replace the model's table with the saved one)");
      }
      unused.remove(key);
    }
  }
}
