package dev.loraj.core.model.llama;

import com.fasterxml.jackson.databind.JsonNode;
import dev.loraj.core.model.BaseModel;
import dev.loraj.core.model.HfConfig;
import dev.loraj.core.model.LinearSite;
import dev.loraj.core.model.ModelGraph;
import dev.loraj.core.model.ModelOutput;
import dev.loraj.core.model.TransformerOps;
import dev.loraj.core.model.TransformerOps.AttentionShape;
import dev.loraj.core.model.TransformerOps.Rope;
import dev.loraj.core.quant.QuantizedLinearOp;
import dev.loraj.core.quant.QuantizedWeight;
import dev.loraj.core.model.TransformerOps.Seq;
import dev.loraj.core.model.WeightShapes;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Llama (Touvron et al. 2023, arXiv 2302.13971) as transformers' {@code LlamaForCausalLM}, which
 * also covers Mistral (sliding-window attention) and Qwen2 (biases on q/k/v): pre-RMSNorm blocks,
 * rotary position embeddings (arXiv 2104.09864), grouped-query attention (arXiv 2305.13245,
 * {@code num_key_value_heads}) and the SwiGLU MLP {@code down(silu(gate(x)) * up(x))}
 * (arXiv 2002.05202).
 *
 * <p>Module names are transformers' ({@code model.layers.N.self_attn.q_proj}); weights are
 * stored [out, in]. An untied {@code lm_head} is a linear site marked as the output head
 * ({@code all-linear} skips it); with {@code tie_word_embeddings} the head reuses
 * {@code model.embed_tokens.weight} and is not a site. {@code model.embed_tokens} is an
 * embedding site (PEFT's {@code lora.Embedding}); a tied head computes with the stored table, so
 * an unmerged adapter there changes the input embeddings only, as in PEFT.
 *
 * <p>Input placeholder {@code input_ids} INT64 [batch, seq] (INT32 arrays are cast); output
 * logits [batch * seq, vocab], row {@code b * seq + t}. Positions are 0..seq-1 for every
 * example; causal attention, no padding mask. Rotary scaling: default, linear and Llama 3's
 * ({@link RopeScaling}).
 */
public final class LlamaModel implements BaseModel {

  /**
   * The fields of {@code LlamaConfig} (and Mistral's, Qwen2's) this graph uses.
   *
   * @param rope the rotary frequencies: {@code rope_theta} and the scaling type ({@code default},
   *     {@code linear}, {@code llama3}), from either config form ({@link RopeScaling#from})
   * @param qkvBias q/k/v projections have biases (Qwen2; Llama's {@code attention_bias})
   * @param outBias o_proj has a bias (Llama's {@code attention_bias})
   * @param slidingWindow Mistral's attention window, 0 for none
   */
  public record Config(String modelType, int vocabSize, int hidden, int intermediate, int layers,
      int heads, int kvHeads, int headDim, double rmsNormEps, RopeScaling rope, String activation,
      boolean tieWordEmbeddings, boolean qkvBias, boolean outBias, boolean mlpBias,
      int slidingWindow) {

    public Config {
      new AttentionShape(heads, kvHeads, headDim); // validates
      if (headDim % 2 != 0) {
        throw new IllegalArgumentException("head_dim = " + headDim + ": rotary embeddings need an even head_dim");
      }
    }

    public static Config from(HfConfig c) {
      String type = c.string("llama", "model_type");
      int hidden = c.positiveInt("hidden_size");
      int heads = c.positiveInt("num_attention_heads");
      boolean qwen = type.equals("qwen2");
      boolean attnBias = c.bool(false, "attention_bias");
      int window = 0;
      if (type.equals("mistral") || (qwen && c.bool(false, "use_sliding_window"))) {
        window = c.positiveInt(0, "sliding_window");
      }
      return new Config(type,
          c.positiveInt("vocab_size"),
          hidden,
          c.positiveInt("intermediate_size"),
          c.positiveInt("num_hidden_layers"),
          heads,
          c.positiveInt(heads, "num_key_value_heads"),
          c.positiveInt(hidden / heads, "head_dim"),
          c.number(1e-6, "rms_norm_eps"),
          RopeScaling.from(c),
          c.string("silu", "hidden_act"),
          c.bool(false, "tie_word_embeddings"),
          qwen || attnBias,
          attnBias,
          c.bool(false, "mlp_bias"),
          window);
    }

    /** Base of the rotary angles. */
    public double ropeTheta() {
      return rope.theta();
    }
  }

  private final Config config;
  private final Map<String, INDArray> weights;
  private final Map<String, dev.loraj.core.quant.QuantizedWeight> quantized = new java.util.LinkedHashMap<>();
  private final List<LinearSite> sites;

  public LlamaModel(Config config, Map<String, INDArray> weights) {
    this(config, weights, Map.of());
  }

  /**
   * A model whose frozen linear weights in {@code held} are quantized or 16-bit ([out, in], see
   * {@link #quantizedWeights()}) and absent from {@code weights}; a held embedding table is
   * 16-bit and as stored, [vocab, hidden].
   */
  public LlamaModel(Config config, Map<String, INDArray> weights,
      Map<String, dev.loraj.core.quant.QuantizedWeight> held) {
    this.config = config;
    this.weights = new LinkedHashMap<>(weights);
    this.quantized.putAll(held);
    this.sites = sites(config);
    expectedWeights(config).check(this.weights, this.quantized);
  }

  public Config config() {
    return config;
  }

  /** transformers' {@code initializer_range} default for Llama. */
  public static final double INITIALIZER_RANGE = 0.02;

  /**
   * A randomly initialised model of this shape (no checkpoint), as transformers initialises a
   * fresh {@code LlamaForCausalLM}: linear weights and embeddings
   * ~ N(0, {@link #INITIALIZER_RANGE}^2), biases 0, RMSNorm gains 1. For benchmarks.
   */
  public static LlamaModel random(Config config, long seed) {
    return new LlamaModel(config, expectedWeights(config).randomInit(INITIALIZER_RANGE, seed));
  }

  /** The linear sites of a model of this shape (no weights needed), in module order. */
  public static List<LinearSite> sites(Config c) {
    List<LinearSite> s = new ArrayList<>();
    int e = c.hidden();
    int q = c.heads() * c.headDim();
    int kv = c.kvHeads() * c.headDim();
    for (int i = 0; i < c.layers(); i++) {
      String a = "model.layers." + i + ".self_attn.";
      s.add(new LinearSite(a + "q_proj", e, q, false, false, c.qkvBias()));
      s.add(new LinearSite(a + "k_proj", e, kv, false, false, c.qkvBias()));
      s.add(new LinearSite(a + "v_proj", e, kv, false, false, c.qkvBias()));
      s.add(new LinearSite(a + "o_proj", q, e, false, false, c.outBias()));
      String m = "model.layers." + i + ".mlp.";
      s.add(new LinearSite(m + "gate_proj", e, c.intermediate(), false, false, c.mlpBias()));
      s.add(new LinearSite(m + "up_proj", e, c.intermediate(), false, false, c.mlpBias()));
      s.add(new LinearSite(m + "down_proj", c.intermediate(), e, false, false, c.mlpBias()));
    }
    if (!c.tieWordEmbeddings()) {
      s.add(new LinearSite("lm_head", e, c.vocabSize(), false, true, false));
    }
    return List.copyOf(s);
  }

  /** Every weight name with its shape, as {@code LlamaForCausalLM.state_dict()}. */
  public static WeightShapes expectedWeights(Config c) {
    WeightShapes w = new WeightShapes(c.modelType());
    long e = c.hidden();
    w.put("model.embed_tokens.weight", c.vocabSize(), e);
    for (int i = 0; i < c.layers(); i++) {
      w.put("model.layers." + i + ".input_layernorm.weight", e);
      w.put("model.layers." + i + ".post_attention_layernorm.weight", e);
    }
    for (LinearSite s : sites(c)) {
      w.put(s.weightName(), s.weightShape());
      if (s.hasBias()) {
        w.put(s.biasName(), s.out());
      }
    }
    w.put("model.norm.weight", e);
    return w;
  }

  @Override
  public String family() {
    return "llama";
  }

  @Override
  public Map<String, INDArray> weights() {
    return weights;
  }

  /** Frozen linear weights held quantized (see {@link dev.loraj.core.quant.QuantizedBase}). */
  @Override
  public Map<String, dev.loraj.core.quant.QuantizedWeight> quantizedWeights() {
    return quantized;
  }

  @Override
  public List<LinearSite> linearSites() {
    return sites;
  }

  @Override
  public List<LinearSite> embeddingSites() {
    return embeddingSites(config);
  }

  /** The token-embedding table of a model of {@code c}: {@code model.embed_tokens}. */
  public static List<LinearSite> embeddingSites(Config c) {
    return List.of(LinearSite.embedding("model.embed_tokens", c.vocabSize(), c.hidden(),
        c.tieWordEmbeddings()));
  }

  @Override
  public int rowsPerExample(Map<String, INDArray> inputs) {
    return (int) inputs.get("input_ids").size(1);
  }

  @Override
  public long batchSize(Map<String, INDArray> inputs) {
    return inputs.get("input_ids").size(0);
  }

  @Override
  public LlamaModel withWeights(Map<String, INDArray> w) {
    return new LlamaModel(config, w);
  }

  @Override
  public ModelOutput build(ModelGraph g) {
    SameDiff sd = g.sd();
    SDVariable ids = g.placeholder("input_ids", DataType.INT64, -1, -1);
    Seq seq = Seq.of(sd, ids);
    SDVariable h = g.embedding("model.embed_tokens", ids); // [n, e]
    SDVariable mask = TransformerOps.causalMask(seq, config.slidingWindow());
    Rope rope = TransformerOps.ropeTables(seq, config.headDim(),
        config.rope().inverseFrequencies(config.headDim()));
    AttentionShape shape = new AttentionShape(config.heads(), config.kvHeads(), config.headDim());
    double scaling = Math.pow(config.headDim(), -0.5);
    for (int i = 0; i < config.layers(); i++) {
      g.beginBlock();
      String p = "model.layers." + i;
      SDVariable x = rms(g, h, p + ".input_layernorm.weight");
      SDVariable att = TransformerOps.causalAttention(seq,
          g.linear(p + ".self_attn.q_proj", x),
          g.linear(p + ".self_attn.k_proj", x),
          g.linear(p + ".self_attn.v_proj", x),
          shape, s -> s.mul(scaling), rope, mask);
      h = h.add(g.linear(p + ".self_attn.o_proj", att));
      SDVariable m = rms(g, h, p + ".post_attention_layernorm.weight");
      SDVariable gate = TransformerOps.activation(sd, config.activation(), g.linear(p + ".mlp.gate_proj", m));
      h = h.add(g.linear(p + ".mlp.down_proj", gate.mul(g.linear(p + ".mlp.up_proj", m))));
    }
    g.endBlock();
    h = rms(g, h, "model.norm.weight");
    // a frozen head lets the loss skip the logits (LmHeadCrossEntropy)
    QuantizedWeight heldTable = quantizedWeights().get("model.embed_tokens.weight");
    if (config.tieWordEmbeddings() && heldTable != null) { // [n, e] x [e, vocab], 16-bit table
      return new ModelOutput(QuantizedLinearOp.apply(sd, h, heldTable), List.of("input_ids"),
          new ModelOutput.FrozenHead(h, heldTable, null));
    }
    if (config.tieWordEmbeddings()) {
      return g.tiedHead("model.embed_tokens.weight", h, List.of("input_ids"));
    }
    SDVariable logits = g.linear("lm_head", h);
    // null with an adapter on lm_head or lm_head trained
    return new ModelOutput(logits, List.of("input_ids"), g.frozenHead("lm_head", h, logits));
  }

  private SDVariable rms(ModelGraph g, SDVariable x, String weight) {
    return TransformerOps.rmsNorm(g.sd(), x, g.weight(weight), config.rmsNormEps(), g.training());
  }
}
