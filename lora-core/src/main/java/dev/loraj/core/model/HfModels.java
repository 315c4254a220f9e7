package dev.loraj.core.model;

import dev.loraj.core.io.SafetensorsDtype;
import dev.loraj.core.io.SafetensorsWriter;
import dev.loraj.core.io.ShardedCheckpoint;
import dev.loraj.core.io.TensorElements;
import dev.loraj.core.io.TensorInfo;
import dev.loraj.core.io.TensorSource;
import dev.loraj.core.model.bert.BertCheckpoint;
import dev.loraj.core.model.bert.BertConfig;
import dev.loraj.core.model.bert.BertModel;
import dev.loraj.core.model.gpt2.Gpt2Model;
import dev.loraj.core.model.llama.LlamaModel;
import dev.loraj.core.quant.QuantFormat;
import dev.loraj.core.quant.QuantizedWeight;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Loads Hugging Face model directories: {@code config.json} plus {@code model.safetensors} or a
 * sharded {@code model.safetensors.index.json}. {@code model_type} picks the family:
 * {@code gpt2}; {@code llama}, {@code mistral}, {@code qwen2} (one graph, {@link LlamaModel});
 * {@code bert} ({@link BertModel}, see {@link #BERT_CLASSIFIER_SEED} for its head).
 * Frozen linear weights are held as {@link BaseDtype} says: {@link #load(Path)} widens
 * F16/BF16/F64 to float32 (as it always has); {@link #load(Path, BaseDtype)} with
 * {@link BaseDtype#AUTO} keeps a bfloat16 or float16 checkpoint's linear weights in 16 bits
 * (2 bytes a parameter, computed in float32 a block of rows at a time), and
 * {@link #load(Path, BaseDtype, QuantizeOnLoad)} quantizes the selected ones (QLoRA's NF4 base)
 * as they are read. Embeddings, norms and biases are float32 in every case.
 *
 * <p><b>Streaming.</b> For decoders (gpt2, llama, mistral, qwen2) a 16-bit or quantized weight
 * goes from the memory-mapped file to its held form a window at a time
 * ({@link TensorElements}), so no float32 copy of it, let alone of the model, is made (GPT-2's
 * Conv1D weights, stored transposed, pass through one float32 copy of that one tensor). A BERT
 * checkpoint is read in float32 and its weights converted one by one after loading.
 *
 * <p>Only the tensors the family needs are read; extra ones (a tied {@code lm_head.weight},
 * GPT-2's causal-mask buffers {@code attn.bias}) are skipped. A missing tensor is an error naming
 * the key, a shape that disagrees with the config an error naming both shapes.
 */
public final class HfModels {
  private HfModels() {}

  private static final Logger log = LoggerFactory.getLogger(HfModels.class);

  /** The {@code model_type} values this loader accepts. */
  public static final List<String> MODEL_TYPES = List.of("gpt2", "llama", "mistral", "qwen2", "bert");

  /**
   * Seed of the classifier a BERT checkpoint without {@code classifier.weight} gets when its
   * config asks for labels (HF init: N(0, 0.02^2), bias 0).
   */
  public static final long BERT_CLASSIFIER_SEED = 0;

  /** Reads the model in {@code dir} with every weight in float32 ({@link BaseDtype#F32}). */
  public static BaseModel load(Path dir) throws IOException {
    return load(dir, BaseDtype.F32);
  }

  /**
   * Reads the model in {@code dir}, holding its frozen linear weights as {@code dtype} says
   * ({@link BaseDtype#AUTO}: the checkpoint's own dtype).
   */
  public static BaseModel load(Path dir, BaseDtype dtype) throws IOException {
    return load(dir, dtype, null);
  }

  /**
   * Reads the model in {@code dir}: the linear weights {@code quantize} selects are quantized as
   * they are read (none when it is null), the other frozen linear weights are held as
   * {@code dtype} says.
   */
  public static BaseModel load(Path dir, BaseDtype dtype, QuantizeOnLoad quantize)
      throws IOException {
    java.util.Objects.requireNonNull(dtype, "dtype");
    HfConfig config = HfConfig.read(dir);
    String type = checkType(config);
    try (ShardedCheckpoint source = ShardedCheckpoint.open(dir)) {
      return switch (type) {
        case "gpt2" -> {
          Gpt2Model.Config c = Gpt2Model.Config.from(config);
          // checkpoints saved from GPT2Model (the original "gpt2") lack the "transformer." prefix
          String prefix = !source.contains("transformer.wte.weight") && source.contains("wte.weight")
              ? "transformer." : "";
          Held held = new Held(dtype, quantize, Gpt2Model.sites(c), List.of());
          Map<String, INDArray> w = read(dir, source, Gpt2Model.expectedWeights(c), prefix, held);
          yield new Gpt2Model(c, w, held.weights);
        }
        case "bert" -> {
          BaseModel m = loadBert(dir, config, source);
          new Held(dtype, quantize, m.linearSites(), List.of()).convert(m, source);
          yield m;
        }
        default -> {
          LlamaModel.Config c = LlamaModel.Config.from(config);
          Held held = new Held(dtype, quantize, LlamaModel.sites(c), LlamaModel.embeddingSites(c));
          Map<String, INDArray> w = read(dir, source, LlamaModel.expectedWeights(c), "", held);
          yield new LlamaModel(c, w, held.weights);
        }
      };
    }
  }

  /**
   * Which frozen linear weights are held quantized or in 16 bits, and those read so far. The
   * output head counts as frozen here; it is only trained when a caller makes it trainable,
   * which {@link PeftModel#addTrainableBase} refuses for a held weight (load it in float32).
   * A decoder's token-embedding table is held in 16 bits under the same setting (never
   * quantized), as stored, [num_embeddings, dim]: looked up a row at a time and, when the head is
   * tied to it, multiplied like a held linear weight (Qwen2.5-0.5B's table: 545 MB in fp32).
   */
  private static final class Held {
    private final BaseDtype dtype;
    private final QuantizeOnLoad quantize;
    private final Map<String, LinearSite> sites = new LinkedHashMap<>();
    private final Set<String> quantized = new java.util.HashSet<>();
    final Map<String, QuantizedWeight> weights = new LinkedHashMap<>();

    Held(BaseDtype dtype, QuantizeOnLoad quantize, List<LinearSite> all, List<LinearSite> tables) {
      this.dtype = dtype;
      this.quantize = quantize;
      all.forEach(s -> sites.put(s.weightName(), s));
      if (quantize != null) {
        quantize.targets().resolve(all).forEach(s -> quantized.add(s.weightName()));
      }
      tables.forEach(s -> sites.put(s.weightName(), s));
    }

    /**
     * The held form of weight {@code name} read from {@code key} of {@code source}, or null
     * when it stays a float32 array.
     */
    QuantizedWeight read(String name, TensorSource source, String key) {
      LinearSite site = sites.get(name);
      if (site == null) {
        return null;
      }
      TensorInfo info = source.info(key);
      QuantizedWeight q;
      if (site.embedding()) {
        QuantFormat f = dtype.heldFormat(info.dtype()).orElse(null);
        if (f == null) {
          return null;
        }
        TensorElements elements = new TensorElements(source, key); // [num_embeddings, dim]
        q = QuantizedWeight.quantize(site.in(), site.out(), elements::read, f,
            QuantizedWeight.DEFAULT_BLOCK_SIZE, false);
      } else if (quantized.contains(name)) {
        q = convert(site, source, key, quantize.format(), quantize.blockSize(),
            quantize.doubleQuant());
      } else {
        QuantFormat f = dtype.heldFormat(info.dtype()).orElse(null);
        if (f == null) {
          return null;
        }
        q = convert(site, source, key, f, QuantizedWeight.DEFAULT_BLOCK_SIZE, false);
      }
      weights.put(name, q);
      return q;
    }

    private static QuantizedWeight convert(LinearSite site, TensorSource source, String key,
        QuantFormat format, int blockSize, boolean doubleQuant) {
      if (site.fanInFanOut()) { // stored [in, out]: one float copy of this tensor, transposed
        INDArray stored = source.getFloat(key);
        INDArray w = stored.transpose().dup('c');
        stored.close();
        QuantizedWeight q = QuantizedWeight.quantize(w, format, blockSize, doubleQuant);
        w.close();
        return q;
      }
      TensorElements elements = new TensorElements(source, key);
      return QuantizedWeight.quantize(site.out(), site.in(), elements::read, format, blockSize,
          doubleQuant);
    }

    /** Converts the selected weights of a model already read in float32, one at a time. */
    void convert(BaseModel m, TensorSource source) {
      for (LinearSite site : m.linearSites()) {
        String name = site.weightName();
        boolean q = quantized.contains(name);
        QuantFormat f = q ? quantize.format() : null;
        if (!q) {
          String key = source.contains(name) ? name : null;
          SafetensorsDtype stored = key == null ? SafetensorsDtype.F32 : source.info(key).dtype();
          f = dtype.heldFormat(stored).orElse(null);
        }
        if (f == null) {
          continue;
        }
        INDArray dense = m.weights().get(name);
        INDArray w = site.fanInFanOut() ? dense.transpose().dup('c') : dense;
        m.quantizedWeights().put(name, QuantizedWeight.quantize(w,
            f, q ? quantize.blockSize() : QuantizedWeight.DEFAULT_BLOCK_SIZE,
            q && quantize.doubleQuant()));
        m.weights().remove(name);
        if (w != dense) {
          w.close();
        }
        dense.close();
      }
    }
  }

  /**
   * Writes every weight of {@code model} under its Hugging Face name to {@code file} (a
   * {@code model.safetensors}; copy {@code config.json} beside it to make a loadable directory),
   * for instance after merging adapters into a 16-bit base. Types: {@link BaseDtype#AUTO} writes
   * a weight held in 16 bits in its own type and every other weight (dense, or quantized, which
   * is dequantized) as float32; {@code bf16}, {@code f16}, {@code f32} write every floating-point
   * weight in that type (round to nearest even). Held weights are written a chunk of rows at a
   * time, so saving makes no float32 copy of the model; the write is atomic.
   */
  public static void saveWeights(BaseModel model, Path file, BaseDtype dtype) throws IOException {
    SafetensorsDtype dense = switch (dtype) {
      case BF16 -> SafetensorsDtype.BF16;
      case F16 -> SafetensorsDtype.F16;
      default -> SafetensorsDtype.F32;
    };
    Map<String, SafetensorsWriter.Streamed> streamed = new LinkedHashMap<>();
    for (LinearSite site : model.adapterSites()) {
      QuantizedWeight q = model.quantizedWeights().get(site.weightName());
      if (q == null) {
        continue;
      }
      SafetensorsDtype type = dense;
      if (dtype == BaseDtype.AUTO && !q.format().blockwise()) {
        type = q.format() == QuantFormat.BF16 ? SafetensorsDtype.BF16 : SafetensorsDtype.F16;
      }
      SafetensorsDtype target = type;
      streamed.put(site.weightName(), new SafetensorsWriter.Streamed(target, site.weightShape(),
          out -> writeHeld(q, site.heldTransposed(), target, out)));
    }
    SafetensorsWriter.write(file, model.weights(), dense, streamed, Map.of("format", "pt"));
  }

  /** Rows of deq(W) as {@code target}, a chunk at a time ([in, out] when stored transposed). */
  private static void writeHeld(QuantizedWeight q, boolean transposed, SafetensorsDtype target,
      java.io.OutputStream out) throws IOException {
    int rows = q.rows();
    int cols = q.cols();
    if (transposed) { // GPT-2's Conv1D layout: one float copy of this weight, transposed
      float[] w = q.dequantize().transpose().dup('c').data().asFloat();
      writeFloats(w, w.length, target, out);
      return;
    }
    int chunkRows = Math.max(1, Math.min(rows, (1 << 18) / cols));
    float[] buf = new float[chunkRows * cols];
    for (int r0 = 0; r0 < rows; r0 += chunkRows) {
      int n = Math.min(chunkRows, rows - r0);
      q.dequantizeRows(r0, n, buf);
      writeFloats(buf, n * cols, target, out);
    }
  }

  private static void writeFloats(float[] v, int n, SafetensorsDtype target,
      java.io.OutputStream out) throws IOException {
    java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(n * target.byteSize())
        .order(java.nio.ByteOrder.LITTLE_ENDIAN);
    for (int i = 0; i < n; i++) {
      switch (target) {
        case BF16 -> b.putShort(dev.loraj.core.io.HalfPrecision.floatToBfloat16(v[i]));
        case F16 -> b.putShort(dev.loraj.core.io.HalfPrecision.floatToHalf(v[i]));
        default -> b.putFloat(v[i]);
      }
    }
    out.write(b.array(), 0, b.position());
  }

  /** The linear sites of the model in {@code dir}, from its config alone (no weights read). */
  public static List<LinearSite> sites(Path dir) throws IOException {
    return sites(HfConfig.read(dir));
  }

  public static List<LinearSite> sites(HfConfig config) {
    return switch (checkType(config)) {
      case "gpt2" -> Gpt2Model.sites(Gpt2Model.Config.from(config));
      case "bert" -> {
        // config alone: HF task models ("BertFor...") nest the encoder under "bert." and carry a
        // pooler; load() reads the truth from the checkpoint's tensor names
        boolean task = architectures(config).stream().anyMatch(a -> a.startsWith("BertFor"));
        int labels = configuredLabels(config);
        yield BertModel.sites(BertConfig.from(config), task ? BertModel.HF_PREFIX : "",
            BertModel.Pooling.POOLER, labels);
      }
      default -> LlamaModel.sites(LlamaModel.Config.from(config));
    };
  }

  /**
   * A BERT checkpoint, as saved by HF {@code BertModel} (names {@code embeddings...}) or a task
   * model such as {@code BertForSequenceClassification} ({@code bert.embeddings...},
   * {@code classifier}); the model keeps the checkpoint's names, so PEFT adapter keys
   * ({@code base_model.model.bert.encoder...}) match. Pooling is {@link BertModel.Pooling#POOLER}
   * (tanh(pooler.dense([CLS])), as BertForSequenceClassification) when {@code pooler.dense.weight}
   * exists, else {@link BertModel.Pooling#CLS}. Labels: the rows of {@code classifier.weight};
   * without a classifier, {@link #configuredLabels} (then initialised, seed
   * {@link #BERT_CLASSIFIER_SEED}); 0 labels: no head, the output is the pooled vector.
   */
  private static BertModel loadBert(Path dir, HfConfig config, ShardedCheckpoint source) {
    BertConfig c = BertConfig.from(config);
    String prefix = source.contains(BertModel.HF_PREFIX + "embeddings.word_embeddings.weight")
        ? BertModel.HF_PREFIX : "";
    boolean pooler = source.contains(prefix + "pooler.dense.weight");
    boolean classifier = source.contains("classifier.weight");
    int labels;
    if (classifier) {
      long[] shape = source.info("classifier.weight").shape();
      if (shape.length != 2) {
        throw new IllegalArgumentException(dir + ": tensor 'classifier.weight' has shape "
            + Arrays.toString(shape) + "; expected [num_labels, " + c.hiddenSize() + "]");
      }
      labels = (int) shape[0];
    } else {
      labels = configuredLabels(config);
    }
    BertModel.Pooling pooling = pooler ? BertModel.Pooling.POOLER : BertModel.Pooling.CLS;
    Map<String, INDArray> w =
        read(dir, source, BertModel.expectedWeights(c, prefix, pooler, classifier ? labels : 0), "");
    if (labels > 0 && !classifier) {
      log.warn("{}: no classifier.weight; initialising a {}-label classifier (seed {})", dir,
          labels, BERT_CLASSIFIER_SEED);
    }
    return BertModel.of(new BertCheckpoint(c, w), pooling, labels, BERT_CLASSIFIER_SEED, prefix);
  }

  /**
   * The label count a BERT config asks for: {@code num_labels}, else the size of
   * {@code id2label}, else 2 (transformers' default) for a {@code *ForSequenceClassification}
   * architecture, else 0 (no head).
   */
  static int configuredLabels(HfConfig config) {
    if (config.has("num_labels")) {
      return config.positiveInt("num_labels");
    }
    var id2label = config.object("id2label");
    if (id2label != null && id2label.size() > 0) {
      return id2label.size();
    }
    return architectures(config).stream().anyMatch(a -> a.endsWith("ForSequenceClassification"))
        ? 2 : 0;
  }

  private static List<String> architectures(HfConfig config) {
    var node = config.root().get("architectures");
    List<String> out = new java.util.ArrayList<>();
    if (node != null && node.isArray()) {
      node.forEach(n -> out.add(n.asText()));
    }
    return out;
  }

  private static String checkType(HfConfig config) {
    String type = config.modelType();
    if (!MODEL_TYPES.contains(type)) {
      throw new IllegalArgumentException(
          config.source() + ": model_type '" + type + "' is not supported; accepted: "
              + MODEL_TYPES);
    }
    return type;
  }

  /**
   * Reads the expected tensors as FLOAT arrays. {@code strip}: a prefix of the expected names
   * that the checkpoint leaves out.
   */
  static Map<String, INDArray> read(Path dir, TensorSource source, WeightShapes expected,
      String strip) {
    return read(dir, source, expected, strip, null);
  }

  /** As above; weights {@code held} takes are held by it instead of returned. */
  private static Map<String, INDArray> read(Path dir, TensorSource source, WeightShapes expected,
      String strip, Held held) {
    Map<String, INDArray> out = new LinkedHashMap<>();
    Set<String> unused = new TreeSet<>(source.names());
    for (Map.Entry<String, long[]> e : expected.shapes().entrySet()) {
      String name = e.getKey();
      String key = name.startsWith(strip) ? name.substring(strip.length()) : name;
      if (!source.contains(key)) {
        throw new IllegalArgumentException(
            dir + ": the checkpoint has no tensor '" + key + "' (expected shape "
                + Arrays.toString(e.getValue()) + "); it has " + source.names().size()
                + " tensors");
      }
      TensorInfo info = source.info(key);
      if (!Arrays.equals(info.shape(), e.getValue())) {
        throw new IllegalArgumentException(
            dir + ": tensor '" + key + "' has shape " + Arrays.toString(info.shape())
                + ", but config.json implies " + Arrays.toString(e.getValue()));
      }
      if (held == null || held.read(name, source, key) == null) {
        out.put(name, source.getFloat(key));
      }
      unused.remove(key);
    }
    if (!unused.isEmpty()) {
      log.debug("{}: {} checkpoint tensors not used by the graph: {}", dir, unused.size(), unused);
    }
    return out;
  }
}
