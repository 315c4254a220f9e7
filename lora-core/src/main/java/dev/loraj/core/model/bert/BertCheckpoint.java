package dev.loraj.core.model.bert;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeSet;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * A BERT encoder's weights under Hugging Face names ({@code embeddings.word_embeddings.weight},
 * {@code encoder.layer.0.attention.self.query.weight}, ...), Linear weights in torch layout
 * [out, in], float32, with its config.
 *
 * @param config the architecture
 * @param weights tensors by Hugging Face name (no {@code bert.} prefix)
 */
public record BertCheckpoint(BertConfig config, Map<String, INDArray> weights) {

  public BertCheckpoint {
    weights = Map.copyOf(weights);
  }

  /** The tensor called {@code name}; fails naming the missing key. */
  public INDArray weight(String name) {
    INDArray w = weights.get(name);
    if (w == null) {
      throw new IllegalArgumentException("BERT checkpoint has no tensor '" + name + "' ("
          + weights.size() + " tensors present)");
    }
    return w;
  }

  /**
   * The encoder tensors a Hugging Face {@code BertModel} without pooler has, with their shapes
   * (Linear weights [out, in]), in module order.
   */
  public static Map<String, long[]> expectedShapes(BertConfig c) {
    long d = c.hiddenSize();
    long ff = c.intermediateSize();
    Map<String, long[]> shapes = new LinkedHashMap<>();
    shapes.put("embeddings.word_embeddings.weight", new long[] {c.vocabSize(), d});
    shapes.put("embeddings.position_embeddings.weight", new long[] {c.maxPositionEmbeddings(), d});
    shapes.put("embeddings.token_type_embeddings.weight", new long[] {c.typeVocabSize(), d});
    shapes.put("embeddings.LayerNorm.weight", new long[] {d});
    shapes.put("embeddings.LayerNorm.bias", new long[] {d});
    for (int i = 0; i < c.numHiddenLayers(); i++) {
      String p = "encoder.layer." + i + ".";
      for (String qkv : new String[] {"query", "key", "value"}) {
        linear(shapes, p + "attention.self." + qkv, d, d);
      }
      linear(shapes, p + "attention.output.dense", d, d);
      shapes.put(p + "attention.output.LayerNorm.weight", new long[] {d});
      shapes.put(p + "attention.output.LayerNorm.bias", new long[] {d});
      linear(shapes, p + "intermediate.dense", ff, d);
      linear(shapes, p + "output.dense", d, ff);
      shapes.put(p + "output.LayerNorm.weight", new long[] {d});
      shapes.put(p + "output.LayerNorm.bias", new long[] {d});
    }
    return shapes;
  }

  /**
   * Checks that every tensor of {@link #expectedShapes} is present with its shape; extra tensors
   * (a pooler, a classifier) are allowed.
   *
   * @throws IllegalArgumentException naming the missing tensors or the first shape mismatch
   */
  public void validate() {
    Map<String, long[]> expected = expectedShapes(config);
    TreeSet<String> missing = new TreeSet<>(expected.keySet());
    missing.removeAll(weights.keySet());
    if (!missing.isEmpty()) {
      throw new IllegalArgumentException("BERT checkpoint lacks " + missing.size() + " tensors: "
          + missing);
    }
    for (Map.Entry<String, long[]> e : expected.entrySet()) {
      long[] actual = weights.get(e.getKey()).shape();
      if (!Arrays.equals(actual, e.getValue())) {
        throw new IllegalArgumentException("BERT tensor '" + e.getKey() + "' has shape "
            + Arrays.toString(actual) + ", config expects " + Arrays.toString(e.getValue()));
      }
    }
  }

  private static void linear(Map<String, long[]> shapes, String module, long out, long in) {
    shapes.put(module + ".weight", new long[] {out, in}); // torch Linear layout [out, in]
    shapes.put(module + ".bias", new long[] {out});
  }
}
