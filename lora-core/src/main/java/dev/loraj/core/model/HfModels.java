package dev.loraj.core.model;

import dev.loraj.core.io.ShardedCheckpoint;
import dev.loraj.core.io.TensorInfo;
import dev.loraj.core.io.TensorSource;
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
 * {@code gpt2}; {@code llama}, {@code mistral}, {@code qwen2} (one graph, {@link LlamaModel}).
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
  public static final List<String> MODEL_TYPES = List.of("gpt2", "llama", "mistral", "qwen2");

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
      default -> LlamaModel.sites(LlamaModel.Config.from(config));
    };
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
