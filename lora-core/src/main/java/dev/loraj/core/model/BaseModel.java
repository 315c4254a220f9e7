package dev.loraj.core.model;

import dev.loraj.core.quant.QuantizedWeight;
import java.util.List;
import java.util.Map;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * A model family instance: its weights (Hugging Face names) and how to build its forward graph.
 * Every linear layer goes through {@link ModelGraph#linear}, which is where adapters attach.
 */
public interface BaseModel {

  /** Family name, e.g. {@code mlp}, {@code bert}, {@code gpt2}, {@code llama}. */
  String family();

  /** All weights by name; linear weights in their stored layout (see {@link LinearSite}). */
  Map<String, INDArray> weights();

  /**
   * Frozen linear weights held quantized (QLoRA's NF4 base, ...), by weight name, each in torch
   * layout [out, in] whatever the site's stored layout; a name here is absent from
   * {@link #weights()}, so the float copy is really gone. Mutable for families that hold
   * quantized weights (a field and this accessor); the default, an empty immutable map, means
   * the family cannot.
   */
  default Map<String, QuantizedWeight> quantizedWeights() {
    return Map.of();
  }

  /** The linear layers, in graph order. */
  List<LinearSite> linearSites();

  /**
   * The token-embedding tables an adapter may target by name ({@link LinearSite#embedding()}),
   * each built through {@link ModelGraph#embedding}; none by default.
   */
  default List<LinearSite> embeddingSites() {
    return List.of();
  }

  /** Every site an adapter may target: the embedding tables, then the linear layers. */
  default List<LinearSite> adapterSites() {
    List<LinearSite> e = embeddingSites();
    if (e.isEmpty()) {
      return linearSites();
    }
    List<LinearSite> all = new java.util.ArrayList<>(e);
    all.addAll(linearSites());
    return List.copyOf(all);
  }

  /**
   * Builds the forward pass: creates the input placeholders and returns the logits (or the
   * regression output).
   */
  ModelOutput build(ModelGraph graph);

  /**
   * How many rows a linear-site input has per example for this batch (1 for an MLP, the
   * sequence length for token models, whose sites see [batch * seq, hidden]).
   */
  default int rowsPerExample(Map<String, INDArray> inputs) {
    return 1;
  }

  /**
   * A copy with its own weight arrays (for merge-and-unload and full fine-tuning); it holds no
   * quantized weights.
   */
  BaseModel withWeights(Map<String, INDArray> weights);

  /** Number of examples in a batch of inputs. */
  default long batchSize(Map<String, INDArray> inputs) {
    return inputs.values().iterator().next().size(0);
  }

  default long parameterCount() {
    return weights().values().stream().mapToLong(INDArray::length).sum()
        + quantizedWeights().values().stream().mapToLong(q -> (long) q.rows() * q.cols()).sum();
  }
}
