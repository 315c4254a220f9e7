package dev.loraj.core.lora;

import dev.loraj.core.adapter.AdapterConfig;
import dev.loraj.core.adapter.AdapterGraph;
import dev.loraj.core.adapter.SiteInit;
import dev.loraj.core.model.LinearSite;
import java.util.LinkedHashMap;
import java.util.Map;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * LoRA on a token-embedding table, as PEFT 0.21's {@code lora.Embedding}: for token ids x,
 * {@code E[x] + s * A^T[x] B^T} with A [r, num_embeddings] and B [dim, r], i.e. the update
 * {@code (s B A)^T} [num_embeddings, dim] added to the table E. Seen as a linear site
 * ({@link LinearSite#embedding()}: in = num_embeddings, out = dim) this is LoRA's {@code s B A}
 * applied to the one-hot vector of each id, so {@link #deltaWeight()}, merge and unmerge are
 * LoRA's; only the forward differs: a row lookup of {@code A^T} instead of a matmul.
 *
 * <p>As in PEFT: the parameters are saved under {@code lora_embedding_A} and
 * {@code lora_embedding_B} (no {@code .weight} suffix); the initialisation is the reverse of
 * LoRA's on a linear layer, A = 0 and B ~ N(0, 1) (PEFT's {@code reset_lora_parameters}, after
 * loralib's {@code Embedding}), for every {@code init_lora_weights} but {@code false}; and dropout
 * is not applied (PEFT's embedding forward never calls its {@code lora_dropout}).
 */
public final class EmbeddingLoraAdapter extends LoraAdapter {

  public static final String A = "lora_embedding_A";
  public static final String B = "lora_embedding_B";

  /** A new adapter at embedding site {@code site}, initialised as PEFT: A = 0, B ~ N(0, 1). */
  public EmbeddingLoraAdapter(LinearSite site, AdapterConfig config, double scaling, SiteInit init) {
    super(checked(site), config, scaling, 0.0);
    a.assign(0);
    Fill.normal(b, 0, 1, init.random());
  }

  /**
   * An adapter over given arrays (a loaded checkpoint), used as they are.
   *
   * @param a [r, num_embeddings]
   * @param b [dim, r]
   */
  public EmbeddingLoraAdapter(LinearSite site, AdapterConfig config, double scaling, INDArray a, INDArray b) {
    super(checked(site), config, scaling, 0.0, a, b);
  }

  private static LinearSite checked(LinearSite site) {
    if (!site.embedding()) {
      throw new IllegalArgumentException("'" + site.path() + "' is a linear layer, not an embedding table;"
          + " use LoraAdapter there");
    }
    return site;
  }

  @Override
  public Map<String, INDArray> parameters() {
    Map<String, INDArray> p = new LinkedHashMap<>();
    p.put(A, a);
    p.put(B, b);
    return p;
  }

  /**
   * {@code s * A^T[ids] B^T}: the columns of A [r, num_embeddings] for the ids, [r, n],
   * transposed, times B^T [r, dim]. {@code ids} [batch, seq] is the site's input.
   */
  @Override
  public SDVariable forward(AdapterGraph g, SDVariable ids, SDVariable baseOut) {
    var sd = g.sd();
    // columns of A (axis 1) rather than rows of A^T: A is a variable, so its gather has a
    // derivative (EmbeddingGather); a transposed copy's would not
    SDVariable cols = sd.reshape(sd.gather(g.param(A), ids, 1), rank, -1); // [r, n]
    if (scaling != 1.0) {
      cols = cols.mul(scaling);
    }
    return sd.mmul(cols, g.param(B), true, true, false); // [n, r] x [r, dim]
  }
}
