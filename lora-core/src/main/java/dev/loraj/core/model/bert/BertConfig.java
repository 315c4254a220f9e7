package dev.loraj.core.model.bert;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.loraj.core.model.HfConfig;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Set;

/**
 * The architecture fields of a Hugging Face {@code BertConfig} ({@code config.json}), under their
 * Hugging Face names so that a {@code config.json} reads and writes directly.
 *
 * <p>BERT: Devlin et al., arXiv 1810.04805; all-MiniLM-L6-v2 is a 6-layer, 384-wide BERT
 * (hidden 384, 12 heads, intermediate 1536, vocab 30522, 512 positions, eps 1e-12, gelu).
 *
 * @param vocabSize rows of {@code embeddings.word_embeddings.weight}
 * @param hiddenSize model width d
 * @param numHiddenLayers encoder layers
 * @param numAttentionHeads heads per layer; must divide hiddenSize
 * @param intermediateSize FFN width
 * @param hiddenAct FFN activation; "gelu" is the exact erf form (HF's default for BERT)
 * @param maxPositionEmbeddings rows of the absolute position table
 * @param typeVocabSize rows of the token-type (segment) table
 * @param layerNormEps epsilon inside every LayerNorm; BERT uses 1e-12
 * @param hiddenDropoutProb dropout after embeddings and sublayers (training only); HF default 0.1
 * @param attentionProbsDropoutProb dropout on attention probabilities (training only); HF default 0.1
 */
@JsonIgnoreProperties(ignoreUnknown = true)
public record BertConfig(
    @JsonProperty("vocab_size") int vocabSize,
    @JsonProperty("hidden_size") int hiddenSize,
    @JsonProperty("num_hidden_layers") int numHiddenLayers,
    @JsonProperty("num_attention_heads") int numAttentionHeads,
    @JsonProperty("intermediate_size") int intermediateSize,
    @JsonProperty("hidden_act") String hiddenAct,
    @JsonProperty("max_position_embeddings") int maxPositionEmbeddings,
    @JsonProperty("type_vocab_size") int typeVocabSize,
    @JsonProperty("layer_norm_eps") double layerNormEps,
    @JsonProperty("hidden_dropout_prob") double hiddenDropoutProb,
    @JsonProperty("attention_probs_dropout_prob") double attentionProbsDropoutProb) {

  /** Activations the BERT graph implements. */
  public static final Set<String> ACTIVATIONS = Set.of("gelu", "relu");

  public BertConfig {
    positive("vocab_size", vocabSize);
    positive("hidden_size", hiddenSize);
    positive("num_hidden_layers", numHiddenLayers);
    positive("num_attention_heads", numAttentionHeads);
    positive("intermediate_size", intermediateSize);
    positive("max_position_embeddings", maxPositionEmbeddings);
    positive("type_vocab_size", typeVocabSize);
    if (hiddenSize % numAttentionHeads != 0) {
      throw new IllegalArgumentException("num_attention_heads = " + numAttentionHeads
          + " does not divide hidden_size = " + hiddenSize + "; choose a divisor of hidden_size");
    }
    if (hiddenAct == null || !ACTIVATIONS.contains(hiddenAct)) {
      throw new IllegalArgumentException("hidden_act = " + hiddenAct + " is not supported; accepted: "
          + ACTIVATIONS);
    }
    if (!(layerNormEps > 0)) {
      throw new IllegalArgumentException("layer_norm_eps = " + layerNormEps + ", must be > 0");
    }
    probability("hidden_dropout_prob", hiddenDropoutProb);
    probability("attention_probs_dropout_prob", attentionProbsDropoutProb);
  }

  /** hidden_size / num_attention_heads. */
  public int headSize() {
    return hiddenSize / numAttentionHeads;
  }

  /**
   * The fields of a Hugging Face {@code config.json} read through {@link HfConfig} (errors name
   * the file and field). Sizes are required; the rest default as in transformers'
   * {@code BertConfig}: hidden_act "gelu", 512 positions, 2 token types, eps 1e-12, dropout 0.1.
   * Only absolute position embeddings exist here: another {@code position_embedding_type} is an
   * error.
   */
  public static BertConfig from(HfConfig c) {
    String positions = c.string("absolute", "position_embedding_type");
    if (!positions.equals("absolute")) {
      throw new IllegalArgumentException(c.source() + ": position_embedding_type = '" + positions
          + "' is not supported; accepted: 'absolute'");
    }
    int vocab = c.positiveInt("vocab_size");
    int hidden = c.positiveInt("hidden_size");
    int layers = c.positiveInt("num_hidden_layers");
    int heads = c.positiveInt("num_attention_heads");
    int ff = c.positiveInt("intermediate_size");
    String act = c.string("gelu", "hidden_act");
    int maxPositions = c.positiveInt(512, "max_position_embeddings");
    int typeVocab = c.positiveInt(2, "type_vocab_size");
    double eps = c.number(1e-12, "layer_norm_eps");
    double hiddenDropout = c.number(0.1, "hidden_dropout_prob");
    double attentionDropout = c.number(0.1, "attention_probs_dropout_prob");
    try {
      return new BertConfig(vocab, hidden, layers, heads, ff, act, maxPositions, typeVocab, eps,
          hiddenDropout, attentionDropout);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(c.source() + ": " + e.getMessage(), e);
    }
  }

  public static BertConfig read(Path configJson) throws IOException {
    return new ObjectMapper().readValue(configJson.toFile(), BertConfig.class);
  }

  public void write(Path configJson) throws IOException {
    new ObjectMapper().writerWithDefaultPrettyPrinter().writeValue(configJson.toFile(), this);
  }

  private static void positive(String field, int value) {
    if (value <= 0) {
      throw new IllegalArgumentException(field + " = " + value + ", must be > 0");
    }
  }

  private static void probability(String field, double value) {
    if (!(value >= 0 && value < 1)) {
      throw new IllegalArgumentException(field + " = " + value + ", must be in [0, 1)");
    }
  }
}
