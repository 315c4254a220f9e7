package dev.loraj.core.model;

import dev.loraj.core.io.ShardedCheckpoint;
import dev.loraj.core.io.TensorInfo;
import dev.loraj.core.io.TensorSource;
import dev.loraj.core.model.bert.BertCheckpoint;
import dev.loraj.core.model.bert.BertConfig;
import dev.loraj.core.model.bert.BertModel;
import dev.loraj.core.model.gpt2.Gpt2Model;
import dev.loraj.core.model.llama.LlamaModel;
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
 * F16/BF16/F64 tensors become F32.
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

  /** Reads the model in {@code dir}. */
  public static BaseModel load(Path dir) throws IOException {
    HfConfig config = HfConfig.read(dir);
    String type = checkType(config);
    try (ShardedCheckpoint source = ShardedCheckpoint.open(dir)) {
      return switch (type) {
        case "gpt2" -> {
          Gpt2Model.Config c = Gpt2Model.Config.from(config);
          // checkpoints saved from GPT2Model (the original "gpt2") lack the "transformer." prefix
          String prefix = !source.contains("transformer.wte.weight") && source.contains("wte.weight")
              ? "transformer." : "";
          yield new Gpt2Model(c, read(dir, source, Gpt2Model.expectedWeights(c), prefix));
        }
        case "bert" -> loadBert(dir, config, source);
        default -> {
          LlamaModel.Config c = LlamaModel.Config.from(config);
          yield new LlamaModel(c, read(dir, source, LlamaModel.expectedWeights(c), ""));
        }
      };
    }
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
      out.put(name, source.getFloat(key));
      unused.remove(key);
    }
    if (!unused.isEmpty()) {
      log.debug("{}: {} checkpoint tensors not used by the graph: {}", dir, unused.size(), unused);
    }
    return out;
  }
}
