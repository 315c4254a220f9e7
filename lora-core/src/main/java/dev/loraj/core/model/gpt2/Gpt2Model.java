package dev.loraj.core.model.gpt2;

import dev.loraj.core.model.BaseModel;
import dev.loraj.core.model.HfConfig;
import dev.loraj.core.model.LinearSite;
import dev.loraj.core.model.ModelGraph;
import dev.loraj.core.model.ModelOutput;
import dev.loraj.core.model.TransformerOps;
import dev.loraj.core.model.TransformerOps.AttentionShape;
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
 * GPT-2 (Radford et al. 2019) as transformers' {@code GPT2LMHeadModel}: pre-LayerNorm blocks
 * {@code x + attn(ln_1(x))}, {@code x + mlp(ln_2(x))}, final {@code ln_f}, and an output head tied
 * to the token embedding ({@code logits = h wte^T}).
 *
 * <p>Module names are transformers' ({@code transformer.h.N.attn.c_attn}), so PEFT target names
 * and adapter keys apply unchanged. GPT-2's {@code Conv1D} stores weights [in, out]: every linear
 * site is {@link LinearSite#fanInFanOut()}. {@code c_attn} computes q, k and v in one [e, 3e]
 * product and is split after the adapters have been applied, as in PEFT. The tied head is not a
 * linear site (adapting it would untie it; PEFT's {@code all-linear} excludes it as well).
 *
 * <p>Input placeholder {@code input_ids} INT64 [batch, seq] (INT32 arrays are cast); output
 * logits [batch * seq, vocab], row {@code b * seq + t} for token t of example b. Causal
 * attention, no padding mask (pad on the right and ignore those rows).
 */
public final class Gpt2Model implements BaseModel {

  /**
   * The fields of {@code GPT2Config} this graph uses.
   *
   * @param inner MLP width; {@code n_inner}, default 4 * hidden
   * @param activation {@code activation_function}; GPT-2 uses {@code gelu_new} (tanh form)
   * @param scaleAttnWeights divide scores by sqrt(head_dim) ({@code scale_attn_weights})
   * @param scaleByInverseLayer also divide by layer index + 1
   *     ({@code scale_attn_by_inverse_layer_idx}, off in GPT-2)
   */
  public record Config(int vocabSize, int positions, int hidden, int layers, int heads,
      int inner, double layerNormEps, String activation, boolean scaleAttnWeights,
      boolean scaleByInverseLayer) {
    public Config {
      if (hidden % heads != 0) {
        throw new IllegalArgumentException(
            "GPT-2 n_embd = " + hidden + " is not divisible by n_head = " + heads);
      }
    }

    public int headDim() {
      return hidden / heads;
    }

    public static Config from(HfConfig c) {
      int hidden = c.positiveInt("n_embd", "hidden_size");
      return new Config(
          c.positiveInt("vocab_size"),
          c.positiveInt(1024, "n_positions", "max_position_embeddings"),
          hidden,
          c.positiveInt("n_layer", "num_hidden_layers"),
          c.positiveInt("n_head", "num_attention_heads"),
          c.positiveInt(4 * hidden, "n_inner"),
          c.number(1e-5, "layer_norm_epsilon"),
          c.string("gelu_new", "activation_function"),
          c.bool(true, "scale_attn_weights"),
          c.bool(false, "scale_attn_by_inverse_layer_idx"));
    }
  }

  private final Config config;
  private final Map<String, INDArray> weights;
  private final Map<String, dev.loraj.core.quant.QuantizedWeight> quantized = new java.util.LinkedHashMap<>();
  private final List<LinearSite> sites;

  public Gpt2Model(Config config, Map<String, INDArray> weights) {
    this(config, weights, Map.of());
  }

  /**
   * A model whose frozen linear weights in {@code held} are quantized or 16-bit ([out, in], see
   * {@link #quantizedWeights()}) and absent from {@code weights}.
   */
  public Gpt2Model(Config config, Map<String, INDArray> weights,
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

  /** The linear sites of a GPT-2 of this shape (no weights needed). */
  public static List<LinearSite> sites(Config c) {
    List<LinearSite> s = new ArrayList<>();
    int e = c.hidden();
    for (int i = 0; i < c.layers(); i++) {
      String p = "transformer.h." + i;
      s.add(new LinearSite(p + ".attn.c_attn", e, 3 * e, true, false, true));
      s.add(new LinearSite(p + ".attn.c_proj", e, e, true, false, true));
      s.add(new LinearSite(p + ".mlp.c_fc", e, c.inner(), true, false, true));
      s.add(new LinearSite(p + ".mlp.c_proj", c.inner(), e, true, false, true));
    }
    return List.copyOf(s);
  }

  /** Every weight name with its shape, as {@code GPT2LMHeadModel.state_dict()} (head tied). */
  public static WeightShapes expectedWeights(Config c) {
    WeightShapes w = new WeightShapes("gpt2");
    long e = c.hidden();
    w.put("transformer.wte.weight", c.vocabSize(), e);
    w.put("transformer.wpe.weight", c.positions(), e);
    for (int i = 0; i < c.layers(); i++) {
      String p = "transformer.h." + i;
      w.put(p + ".ln_1.weight", e).put(p + ".ln_1.bias", e);
      w.put(p + ".ln_2.weight", e).put(p + ".ln_2.bias", e);
    }
    for (LinearSite s : sites(c)) {
      w.put(s.weightName(), s.weightShape()).put(s.biasName(), s.out());
    }
    w.put("transformer.ln_f.weight", e).put("transformer.ln_f.bias", e);
    return w;
  }

  @Override
  public String family() {
    return "gpt2";
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

  /** {@code transformer.wte}, which the output head always reuses. */
  @Override
  public List<LinearSite> embeddingSites() {
    return List.of(LinearSite.embedding("transformer.wte", config.vocabSize(), config.hidden(), true));
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
  public Gpt2Model withWeights(Map<String, INDArray> w) {
    return new Gpt2Model(config, w);
  }

  @Override
  public ModelOutput build(ModelGraph g) {
    SameDiff sd = g.sd();
    SDVariable ids = g.placeholder("input_ids", DataType.INT64, -1, -1);
    Seq seq = Seq.of(sd, ids);
    SDVariable h = TransformerOps.addPositions(seq, g.embedding("transformer.wte", ids),
        g.weight("transformer.wpe.weight")); // [n, e]
    SDVariable mask = TransformerOps.causalMask(seq);
    AttentionShape shape = new AttentionShape(config.heads(), config.heads(), config.headDim());
    int e = config.hidden();
    for (int i = 0; i < config.layers(); i++) {
      g.beginBlock();
      String p = "transformer.h." + i;
      double divisor = (config.scaleAttnWeights() ? Math.sqrt(config.headDim()) : 1.0)
          * (config.scaleByInverseLayer() ? i + 1 : 1);
      SDVariable a = norm(g, h, p + ".ln_1");
      SDVariable qkv = g.linear(p + ".attn.c_attn", a); // [n, 3e]
      SDVariable att = TransformerOps.causalAttention(seq,
          TransformerOps.columns(sd, qkv, 0, e),
          TransformerOps.columns(sd, qkv, e, e),
          TransformerOps.columns(sd, qkv, 2L * e, e),
          shape, s -> divisor == 1.0 ? s : s.div(divisor), null, mask);
      h = h.add(g.linear(p + ".attn.c_proj", att));
      SDVariable m = norm(g, h, p + ".ln_2");
      m = TransformerOps.activation(sd, config.activation(), g.linear(p + ".mlp.c_fc", m));
      h = h.add(g.linear(p + ".mlp.c_proj", m));
    }
    g.endBlock();
    h = norm(g, h, "transformer.ln_f");
    // a frozen float32 table lets the loss skip the logits (LmHeadCrossEntropy)
    return g.tiedHead("transformer.wte.weight", h, List.of("input_ids"));
  }

  private SDVariable norm(ModelGraph g, SDVariable x, String module) {
    return TransformerOps.layerNorm(g.sd(), x, g.weight(module + ".weight"),
        g.weight(module + ".bias"), config.layerNormEps(), g.training());
  }
}
