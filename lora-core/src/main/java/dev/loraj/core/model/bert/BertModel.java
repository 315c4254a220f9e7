package dev.loraj.core.model.bert;

import dev.loraj.core.graph.BatchedMatMul;
import dev.loraj.core.graph.FrozenAdd;
import dev.loraj.core.graph.VectorKernelOp;
import dev.loraj.core.lora.Fill;
import dev.loraj.core.model.BaseModel;
import dev.loraj.core.model.LinearSite;
import dev.loraj.core.model.ModelGraph;
import dev.loraj.core.model.ModelOutput;
import dev.loraj.core.model.TransformerOps;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.nd4j.autodiff.samediff.SDIndex;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * A BERT encoder (Devlin et al., arXiv 1810.04805) as a SameDiff graph, with an optional
 * sequence-classification head, following Hugging Face's {@code BertModel} /
 * {@code BertForSequenceClassification} weight names and arithmetic:
 *
 * <pre>
 *   h0 = LN(E_word[ids] + E_pos[0..S) + E_type[types])
 *   per layer (post-LN):  h = LN(h + W_o Attn(W_q h, W_k h, W_v h))
 *                         h = LN(h + W_2 gelu(W_1 h))
 *   Attn = softmax(Q K^T / sqrt(d_head) + (1 - mask) * float32_min) V, per head
 *   gelu(x) = x/2 (1 + erf(x / sqrt 2))  (exact, HF "gelu")
 * </pre>
 *
 * Every {@code nn.Linear} (query, key, value, attention.output.dense, intermediate.dense,
 * output.dense, pooler.dense, classifier) goes through {@link ModelGraph#linear}, so adapters
 * attach there; {@code classifier} is the output head (excluded by all-linear).
 *
 * <p>Inputs: placeholders {@code input_ids}, {@code attention_mask}, {@code token_type_ids}, INT64
 * [batch, seq] (see {@link #inputs(TokenBatch)}); seq must not exceed max_position_embeddings.
 * Output: with a head, logits [batch, numLabels]; without, the pooled sentence vector
 * [batch, hidden], or for {@link Pooling#NONE} the last hidden state [batch * seq, hidden].
 *
 * <p>Dropout is not applied, in training either: ND4J's dropout draws from its global RNG, which
 * the framework avoids. LoRA's own dropout (on the adapter input) is unaffected.
 */
public final class BertModel implements BaseModel {

  /** How the [batch, seq, hidden] states become one vector per example. */
  public enum Pooling {
    /** No pooling: the output is the last hidden state, [batch * seq, hidden] (no head). */
    NONE,
    /** The [CLS] (first) token's state, without BERT's pooler. */
    CLS,
    /** HF BertForSequenceClassification: tanh(pooler.dense([CLS])). Needs pooler weights. */
    POOLER,
    /**
     * Attention-masked mean over tokens (sentence-transformers; the pooling all-MiniLM-L6-v2 was
     * trained with).
     */
    MEAN
  }

  public static final String INPUT_IDS = "input_ids";
  public static final String ATTENTION_MASK = "attention_mask";
  public static final String TOKEN_TYPE_IDS = "token_type_ids";

  /** HF {@code initializer_range}: the std of a freshly initialised classifier. */
  public static final double INITIALIZER_RANGE = 0.02;

  /** The module prefix of Hugging Face's task models ({@code BertForSequenceClassification}). */
  public static final String HF_PREFIX = "bert.";

  private final BertConfig config;
  private final String prefix;
  private final Pooling pooling;
  private final int numLabels;
  private final Map<String, INDArray> weights;
  private final Map<String, dev.loraj.core.quant.QuantizedWeight> quantized = new java.util.LinkedHashMap<>();
  private final List<LinearSite> sites;

  /**
   * @param weights tensors under HF names (a leading {@code bert.} is stripped, so a
   *     BertForSequenceClassification state dict loads as is); Linear weights [out, in]
   * @param numLabels classifier outputs; 0 for no head
   */
  public BertModel(BertConfig config, Map<String, INDArray> weights, Pooling pooling, int numLabels) {
    this(config, weights, pooling, numLabels, "");
  }

  /**
   * As {@link #BertModel(BertConfig, Map, Pooling, int)}, with every encoder and pooler weight and
   * linear site named {@code modulePrefix + <HF BertModel name>}: {@code ""} (the encoder alone,
   * as HF {@code BertModel} names it) or {@link #HF_PREFIX} (as in HF's task models, whose PEFT
   * adapters key their tensors {@code base_model.model.bert.encoder...}). The classifier is
   * {@code classifier} either way. Incoming keys may carry {@code bert.} or not.
   */
  public BertModel(BertConfig config, Map<String, INDArray> weights, Pooling pooling, int numLabels,
      String modulePrefix) {
    if (!"".equals(modulePrefix) && !HF_PREFIX.equals(modulePrefix)) {
      throw new IllegalArgumentException("modulePrefix = '" + modulePrefix + "'; accepted: '' or '"
          + HF_PREFIX + "'");
    }
    if (numLabels < 0) {
      throw new IllegalArgumentException("numLabels = " + numLabels + ", must be >= 0 (0: no head)");
    }
    if (pooling == Pooling.NONE && numLabels > 0) {
      throw new IllegalArgumentException("pooling NONE has no per-example vector for a"
          + " classifier; use CLS, POOLER or MEAN with numLabels = " + numLabels);
    }
    this.config = config;
    this.prefix = modulePrefix;
    this.pooling = pooling;
    this.numLabels = numLabels;
    this.weights = new LinkedHashMap<>();
    Map<String, INDArray> bare = new LinkedHashMap<>();
    weights.forEach((k, v) -> {
      String b = k.startsWith(HF_PREFIX) ? k.substring(HF_PREFIX.length()) : k;
      bare.put(b, v);
      this.weights.put(b.startsWith("classifier.") ? b : prefix + b, v);
    });
    this.sites = sites(config, prefix, pooling, numLabels);
    new BertCheckpoint(config, bare).validate();
    for (LinearSite s : sites) {
      checkShape(s.weightName(), s.weightShape());
      checkShape(s.biasName(), s.out());
    }
  }

  /**
   * A model over a checkpoint's (copied map of) weights; a classifier missing from the checkpoint
   * is initialised as HF does: weight ~ N(0, 0.02^2), bias 0.
   */
  public static BertModel of(BertCheckpoint checkpoint, Pooling pooling, int numLabels, long seed) {
    return of(checkpoint, pooling, numLabels, seed, "");
  }

  /** As {@link #of(BertCheckpoint, Pooling, int, long)}, names under {@code modulePrefix}. */
  public static BertModel of(BertCheckpoint checkpoint, Pooling pooling, int numLabels, long seed,
      String modulePrefix) {
    Map<String, INDArray> w = new LinkedHashMap<>(checkpoint.weights());
    if (numLabels > 0 && !w.containsKey("classifier.weight")) {
      long d = checkpoint.config().hiddenSize();
      w.put("classifier.weight", // [numLabels, d] ~ N(0, 0.02^2)
          Fill.normal(new long[] {numLabels, d}, INITIALIZER_RANGE, new SplittableRandom(seed)));
      w.put("classifier.bias", Nd4j.zeros(DataType.FLOAT, numLabels));
    }
    return new BertModel(checkpoint.config(), w, pooling, numLabels, modulePrefix);
  }

  /**
   * A randomly initialised model of this shape (no checkpoint), as transformers initialises a
   * fresh {@code BertForSequenceClassification}: linear weights and embeddings
   * ~ N(0, {@link #INITIALIZER_RANGE}^2), biases 0, LayerNorm gains 1. Pooler weights exist
   * for {@link Pooling#POOLER}, a classifier for {@code numLabels > 0}. For benchmarks.
   */
  public static BertModel random(BertConfig config, Pooling pooling, int numLabels, long seed) {
    Map<String, INDArray> w = expectedWeights(config, "", pooling == Pooling.POOLER, numLabels)
        .randomInit(INITIALIZER_RANGE, seed);
    return new BertModel(config, w, pooling, numLabels);
  }

  /** Placeholder arrays (INT64 [batch, seq]) for a tokenized batch. */
  public static Map<String, INDArray> inputs(TokenBatch batch) {
    Map<String, INDArray> in = new LinkedHashMap<>();
    in.put(INPUT_IDS, Nd4j.createFromArray(batch.inputIds()));
    in.put(ATTENTION_MASK, Nd4j.createFromArray(batch.attentionMask()));
    in.put(TOKEN_TYPE_IDS, Nd4j.createFromArray(batch.tokenTypeIds()));
    return in;
  }

  public BertConfig config() {
    return config;
  }

  /** {@code ""} or {@link #HF_PREFIX}: what precedes encoder and pooler names. */
  public String modulePrefix() {
    return prefix;
  }

  /** This model's weights (shared arrays) under another pooling / head. */
  public BertModel withPooling(Pooling newPooling, int newNumLabels) {
    return new BertModel(config, weights, newPooling, newNumLabels, prefix);
  }

  /**
   * The tensors a model of this shape reads from a checkpoint, in module order: the encoder under
   * {@code modulePrefix}, {@code pooler.dense} if {@code pooler}, {@code classifier} if
   * {@code numLabels > 0}. Linear weights [out, in].
   */
  public static dev.loraj.core.model.WeightShapes expectedWeights(BertConfig c, String modulePrefix,
      boolean pooler, int numLabels) {
    dev.loraj.core.model.WeightShapes w = new dev.loraj.core.model.WeightShapes("bert");
    BertCheckpoint.expectedShapes(c).forEach((k, v) -> w.put(modulePrefix + k, v));
    long d = c.hiddenSize();
    if (pooler) {
      w.put(modulePrefix + "pooler.dense.weight", d, d).put(modulePrefix + "pooler.dense.bias", d);
    }
    if (numLabels > 0) {
      w.put("classifier.weight", numLabels, d).put("classifier.bias", numLabels);
    }
    return w;
  }

  public Pooling pooling() {
    return pooling;
  }

  public int numLabels() {
    return numLabels;
  }

  @Override
  public String family() {
    return "bert";
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
    return List.of(LinearSite.embedding(prefix + "embeddings.word_embeddings", config.vocabSize(),
        config.hiddenSize(), false));
  }

  @Override
  public int rowsPerExample(Map<String, INDArray> inputs) {
    return (int) inputs.get(INPUT_IDS).size(1);
  }

  @Override
  public long batchSize(Map<String, INDArray> inputs) {
    return inputs.get(INPUT_IDS).size(0);
  }

  @Override
  public BertModel withWeights(Map<String, INDArray> w) {
    return new BertModel(config, w, pooling, numLabels, prefix);
  }

  @Override
  public ModelOutput build(ModelGraph g) {
    SameDiff sd = g.sd();
    int d = config.hiddenSize();
    int heads = config.numAttentionHeads();
    int dh = config.headSize();
    SDVariable ids = g.placeholder(INPUT_IDS, DataType.INT64, -1, -1);
    SDVariable mask = g.placeholder(ATTENTION_MASK, DataType.INT64, -1, -1);
    SDVariable types = g.placeholder(TOKEN_TYPE_IDS, DataType.INT64, -1, -1);
    SDVariable batchSeq = sd.shape(ids); // [2]: B, S
    // [1]: S. (Not sizeAt + range: SameDiff warns "No fields found for property name
    // dimensions/dtype" when it clones those ops for the gradient graph.)
    SDVariable seq = batchSeq.get(SDIndex.interval(1, 2));

    // embeddings: [B, S, d] + [S, d] (rows 0..S-1 of the position table) + [B, S, d]
    SDVariable positionRows = sd.slice(g.weight(prefix + "embeddings.position_embeddings.weight"),
        sd.constant(Nd4j.createFromArray(0L, 0L)),
        sd.concat(0, seq, sd.constant(Nd4j.createFromArray((long) d))));
    SDVariable words = sd.reshape(g.embedding(prefix + "embeddings.word_embeddings", ids),
        sd.concat(0, batchSeq, sd.constant(Nd4j.createFromArray((long) d)))); // [B, S, d]
    SDVariable emb = words
        .add(positionRows)
        .add(sd.gather(g.weight(prefix + "embeddings.token_type_embeddings.weight"), types, 0));
    SDVariable h = layerNorm(g, sd.reshape(emb, -1, d), prefix + "embeddings.LayerNorm"); // [B*S, d]

    // additive mask [B, 1, 1, S]: 0 for tokens, float32 min for padding (as HF computes it)
    SDVariable maskF = sd.castTo(mask, DataType.FLOAT);
    SDVariable maskBias = sd.expandDims(sd.expandDims(maskF.rsub(1.0).mul(-Float.MAX_VALUE), 1), 1);
    SDVariable headShape = sd.concat(0, batchSeq, sd.constant(Nd4j.createFromArray((long) heads, dh)));
    double scale = 1.0 / Math.sqrt(dh);

    for (int l = 0; l < config.numHiddenLayers(); l++) {
      g.beginBlock();
      String p = prefix + "encoder.layer." + l + ".";
      // q, k, v [B,S,H,dh] (reshaped, not permuted): the products read each head in place
      SDVariable q = sd.reshape(g.linear(p + "attention.self.query", h), headShape);
      SDVariable k = sd.reshape(g.linear(p + "attention.self.key", h), headShape);
      SDVariable v = sd.reshape(g.linear(p + "attention.self.value", h), headShape);
      SDVariable scores = FrozenAdd.apply(sd, // the mask is data: no add_bp reducing into it
          // 1/sqrt(dh) on q: 4x fewer entries than the scores [B,H,S,S] (as torch's sdpa)
          BatchedMatMul.of(sd, q.mul(scale), k, false, true, true, true, false), maskBias); // q k^T
      SDVariable probs = VectorKernelOp.softmaxLastAxis(sd, scores, 4);
      // [B,H,S,S] x v -> [B,S,H,dh]: the heads land where the output projection reads them
      SDVariable ctx = BatchedMatMul.of(sd, probs, v, false, false, false, true, true);
      ctx = sd.reshape(ctx, -1, d); // [B*S, d]
      SDVariable attn = g.linear(p + "attention.output.dense", ctx);
      h = layerNorm(g, h.add(attn), p + "attention.output.LayerNorm");
      SDVariable ff = activation(sd, g.linear(p + "intermediate.dense", h)); // [B*S, ff]
      ff = g.linear(p + "output.dense", ff); // [B*S, d]
      h = layerNorm(g, h.add(ff), p + "output.LayerNorm");
    }
    g.endBlock();

    List<String> inputs = List.of(INPUT_IDS, ATTENTION_MASK, TOKEN_TYPE_IDS);
    if (pooling == Pooling.NONE) {
      return new ModelOutput(h, inputs);
    }
    SDVariable h3 = sd.reshape(h, sd.concat(0, batchSeq, sd.constant(Nd4j.createFromArray((long) d))));
    SDVariable pooled = switch (pooling) {
      case CLS -> h3.get(SDIndex.all(), SDIndex.point(0), SDIndex.all()); // [B, d]
      case POOLER -> sd.math().tanh(
          g.linear(prefix + "pooler.dense", h3.get(SDIndex.all(), SDIndex.point(0), SDIndex.all())));
      case MEAN -> {
        // sum_t m_t h_t / max(sum_t m_t, 1e-9)  (sentence-transformers' clamp)
        SDVariable summed = h3.mul(sd.expandDims(maskF, 2)).sum(1); // [B, d]
        SDVariable count = sd.math().max(maskF.sum(true, 1), sd.constant(Nd4j.scalar(1e-9f)));
        yield summed.div(count);
      }
      case NONE -> throw new AssertionError();
    };
    SDVariable out = numLabels > 0 ? g.linear("classifier", pooled) : pooled;
    return new ModelOutput(out, inputs);
  }

  /** LayerNorm over the last axis: (x - mean) / sqrt(var + eps) * gamma + beta (biased var). */
  private SDVariable layerNorm(ModelGraph g, SDVariable x, String module) {
    return TransformerOps.layerNorm(g.sd(), x, g.weight(module + ".weight"), g.weight(module + ".bias"),
        config.layerNormEps(), g.training());
  }

  private SDVariable activation(SameDiff sd, SDVariable x) {
    return switch (config.hiddenAct()) {
      case "gelu" -> VectorKernelOp.gelu(sd, x);
      case "relu" -> sd.nn().relu(x, 0);
      default -> throw new IllegalStateException("hidden_act " + config.hiddenAct());
    };
  }

  /**
   * The linear sites of a BERT of this shape (no weights needed): six per layer under
   * {@code modulePrefix}, then {@code pooler.dense} for {@link Pooling#POOLER} and
   * {@code classifier} (the output head) when {@code numLabels > 0}.
   */
  public static List<LinearSite> sites(BertConfig config, String modulePrefix, Pooling pooling,
      int numLabels) {
    int d = config.hiddenSize();
    int ff = config.intermediateSize();
    List<LinearSite> s = new ArrayList<>();
    for (int l = 0; l < config.numHiddenLayers(); l++) {
      String p = modulePrefix + "encoder.layer." + l + ".";
      s.add(new LinearSite(p + "attention.self.query", d, d, false, false, true));
      s.add(new LinearSite(p + "attention.self.key", d, d, false, false, true));
      s.add(new LinearSite(p + "attention.self.value", d, d, false, false, true));
      s.add(new LinearSite(p + "attention.output.dense", d, d, false, false, true));
      s.add(new LinearSite(p + "intermediate.dense", d, ff, false, false, true));
      s.add(new LinearSite(p + "output.dense", ff, d, false, false, true));
    }
    if (pooling == Pooling.POOLER) {
      s.add(new LinearSite(modulePrefix + "pooler.dense", d, d, false, false, true));
    }
    if (numLabels > 0) {
      s.add(new LinearSite("classifier", d, numLabels, false, true, true));
    }
    return List.copyOf(s);
  }

  private void checkShape(String name, long... shape) {
    INDArray a = weights.get(name);
    if (a == null) {
      throw new IllegalArgumentException("BERT weights lack '" + name + "' (needed by pooling "
          + pooling + ", numLabels " + numLabels + ")");
    }
    if (!Arrays.equals(a.shape(), shape)) {
      throw new IllegalArgumentException("BERT weight '" + name + "' has shape "
          + Arrays.toString(a.shape()) + ", expected " + Arrays.toString(shape));
    }
  }
}
