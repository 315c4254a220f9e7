package dev.loraj.core.model;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.loraj.core.io.AtomicFiles;
import dev.loraj.core.io.HalfPrecision;
import dev.loraj.core.io.SafetensorsDtype;
import dev.loraj.core.io.SafetensorsWriter;
import dev.loraj.core.model.llama.LlamaModel;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Writes a Hugging Face model directory with random weights at the shape of an architecture card
 * ({@link ArchitectureCards}): {@code config.json} as the model's published one (transformers 4.x
 * form: {@code rope_theta} and {@code rope_scaling} at the top level), and the weights under
 * transformers' names in {@code model.safetensors}, or, above the shard size, in
 * {@code model-0000i-of-0000n.safetensors} shards listed by {@code model.safetensors.index.json}
 * (the layout of {@code save_pretrained}: tensors in state-dict order, a new shard when the next
 * tensor would pass the limit, one shard alone for a tensor larger than it). So a model of any
 * size can be trained and measured without downloading it, and it is read by
 * {@link HfModels#load} like a real checkpoint.
 *
 * <p>Values as transformers initialises a fresh model ({@code _init_weights}): linear weights and
 * embeddings ~ N(0, 0.02^2), biases 0, RMSNorm gains 1; each tensor has its own random stream,
 * seeded from the given seed in state-dict order, so the files depend only on the card, the
 * dtype and the seed. Tensors are generated and written one block of 64 Ki values at a time:
 * memory stays at a few buffers whatever the model's size, and a tensor may exceed 2 GiB.
 * Narrowing to BF16/F16 rounds to nearest even ({@link HalfPrecision}).
 *
 * <p>Every file is written atomically and the directory appears complete or not at all
 * ({@link AtomicFiles#writeNewDirectory}).
 */
public final class SyntheticCheckpoint {
  private SyntheticCheckpoint() {}

  /** transformers' {@code initializer_range} for Llama and Qwen2. */
  public static final double INIT_STD = LlamaModel.INITIALIZER_RANGE;

  /** The default shard size, 2 GB (decimal, as {@code save_pretrained}'s "2GB"). */
  public static final long DEFAULT_SHARD_BYTES = 2_000_000_000L;

  /** Values generated and encoded per block. */
  private static final int BLOCK = 1 << 16;

  /**
   * What a published {@code config.json} says beyond a card's dimensions: the family's
   * {@code model_type}, rotary base and scaling, RMSNorm epsilon, context length and special
   * tokens (from the models' published configs).
   */
  public enum Release {
    /** LLaMA 1 (7B-65B): rope_theta 10^4, eps 1e-6, 2,048 positions. */
    LLAMA_1("llama", "LlamaForCausalLM", 10000.0, null, 1e-6, 2048, 1, 2),
    /** Llama 3.1: rope_theta 5 x 10^5, llama3 rope scaling factor 8, 131,072 positions. */
    LLAMA_3_1("llama", "LlamaForCausalLM", 500000.0, 8.0, 1e-5, 131072, 128000, 128001),
    /** Llama 3.2 (1B, 3B): as 3.1 with scaling factor 32. */
    LLAMA_3_2("llama", "LlamaForCausalLM", 500000.0, 32.0, 1e-5, 131072, 128000, 128001),
    /** Qwen2.5: rope_theta 10^6, eps 1e-6, 32,768 positions, q/k/v biases. */
    QWEN_2_5("qwen2", "Qwen2ForCausalLM", 1000000.0, null, 1e-6, 32768, 151643, 151643);

    private final String modelType;
    private final String architecture;
    private final double ropeTheta;
    private final Double llama3Factor;
    private final double rmsNormEps;
    private final int maxPositions;
    private final int bos;
    private final int eos;

    Release(String modelType, String architecture, double ropeTheta, Double llama3Factor, double rmsNormEps,
        int maxPositions, int bos, int eos) {
      this.modelType = modelType;
      this.architecture = architecture;
      this.ropeTheta = ropeTheta;
      this.llama3Factor = llama3Factor;
      this.rmsNormEps = rmsNormEps;
      this.maxPositions = maxPositions;
      this.bos = bos;
      this.eos = eos;
    }

    /** The release of a built-in card; LLaMA 1 for other llama-family cards. */
    public static Release of(ArchitectureCards.Card card) {
      return switch (card.name()) {
        case "qwen2.5-0.5b" -> QWEN_2_5;
        case "llama-3.2-1b", "llama-3.2-3b" -> LLAMA_3_2;
        case "llama-3.1-8b" -> LLAMA_3_1;
        default -> LLAMA_1;
      };
    }
  }

  /** What was written: the directory, its files, the parameter and byte counts. */
  public record Written(Path directory, List<String> files, long parameters, long bytes) {
    public Written {
      files = List.copyOf(files);
    }
  }

  /** The cards this writer accepts: the decoders of the llama family (Llama, Qwen2). */
  public static List<String> cards() {
    return ArchitectureCards.names().stream()
        .filter(n -> ArchitectureCards.card(n).family().equals("llama")).toList();
  }

  /** A card by name, refused with the accepted names when it is not a llama-family decoder. */
  public static ArchitectureCards.Card card(String name) {
    if (!cards().contains(name)) {
      throw new IllegalArgumentException("--card = '" + name + "': synthetic checkpoints are written for the"
          + " decoder cards " + cards());
    }
    return ArchitectureCards.card(name);
  }

  /** The {@code config.json} of {@code card} as {@code release} publishes it, weights in {@code dtype}. */
  public static Map<String, Object> config(ArchitectureCards.Card card, Release release, SafetensorsDtype dtype) {
    if (!card.family().equals("llama")) {
      throw new IllegalArgumentException("card '" + card.name() + "' is a " + card.family()
          + " model; synthetic checkpoints are written for llama-family decoders");
    }
    Map<String, Object> c = new LinkedHashMap<>();
    c.put("architectures", List.of(release.architecture));
    c.put("attention_dropout", 0.0);
    if (release.modelType.equals("llama")) {
      c.put("attention_bias", card.qkvBias());
      c.put("mlp_bias", false);
      c.put("head_dim", card.headDim());
      c.put("pretraining_tp", 1);
    }
    c.put("bos_token_id", release.bos);
    c.put("eos_token_id", release.eos);
    c.put("hidden_act", "silu");
    c.put("hidden_size", card.hidden());
    c.put("initializer_range", INIT_STD);
    c.put("intermediate_size", card.intermediate());
    c.put("max_position_embeddings", release.maxPositions);
    if (release.modelType.equals("qwen2")) {
      c.put("max_window_layers", card.layers());
      c.put("sliding_window", release.maxPositions);
      c.put("use_sliding_window", false);
    }
    c.put("model_type", release.modelType);
    c.put("num_attention_heads", card.heads());
    c.put("num_hidden_layers", card.layers());
    c.put("num_key_value_heads", card.kvHeads());
    c.put("rms_norm_eps", release.rmsNormEps);
    if (release.llama3Factor != null) {
      Map<String, Object> rope = new LinkedHashMap<>();
      rope.put("factor", release.llama3Factor);
      rope.put("high_freq_factor", 4.0);
      rope.put("low_freq_factor", 1.0);
      rope.put("original_max_position_embeddings", 8192);
      rope.put("rope_type", "llama3");
      c.put("rope_scaling", rope);
    } else {
      c.put("rope_scaling", null);
    }
    c.put("rope_theta", release.ropeTheta);
    c.put("tie_word_embeddings", card.tiedEmbeddings());
    c.put("torch_dtype", torchDtype(dtype));
    c.put("use_cache", true);
    c.put("vocab_size", card.vocab());
    return c;
  }

  private static String torchDtype(SafetensorsDtype dtype) {
    return switch (dtype) {
      case BF16 -> "bfloat16";
      case F16 -> "float16";
      case F32 -> "float32";
      default -> throw new IllegalArgumentException("dtype = " + dtype + "; accepted: BF16, F16, F32");
    };
  }

  /**
   * Writes {@code card} (its {@link Release}) with random weights in {@code dtype} into the new
   * directory {@code out} (absent or empty).
   */
  public static Written write(ArchitectureCards.Card card, SafetensorsDtype dtype, Path out, long seed,
      long shardBytes) throws IOException {
    return write(config(card, Release.of(card), dtype), dtype, out, seed, shardBytes);
  }

  /**
   * Writes a llama-family model with this {@code config.json} (fields as
   * {@link #config(ArchitectureCards.Card, Release, SafetensorsDtype)} gives them) and random weights
   * in {@code dtype} into the new directory {@code out}; shards hold at most {@code shardBytes}
   * of tensor data (a larger tensor alone).
   */
  public static Written write(Map<String, Object> config, SafetensorsDtype dtype, Path out, long seed,
      long shardBytes) throws IOException {
    torchDtype(dtype);
    if (shardBytes <= 0) {
      throw new IllegalArgumentException("shard size = " + shardBytes + " bytes; must be > 0");
    }
    LlamaModel.Config c = LlamaModel.Config.from(HfConfig.of("config.json", config));
    List<String> order = stateDictOrder(LlamaModel.expectedWeights(c).shapes().keySet());
    Map<String, long[]> shapes = LlamaModel.expectedWeights(c).shapes();
    SplittableRandom master = new SplittableRandom(seed);
    Map<String, Long> seeds = new LinkedHashMap<>();
    for (String name : order) {
      seeds.put(name, master.nextLong());
    }
    // shards: consecutive tensors in state-dict order, each at most shardBytes (save_pretrained)
    List<List<String>> shards = new ArrayList<>();
    long current = 0;
    long total = 0;
    long parameters = 0;
    for (String name : order) {
      long n = elements(shapes.get(name));
      long bytes = n * dtype.byteSize();
      if (shards.isEmpty() || (current > 0 && current + bytes > shardBytes)) {
        shards.add(new ArrayList<>());
        current = 0;
      }
      shards.get(shards.size() - 1).add(name);
      current += bytes;
      total += bytes;
      parameters += n;
    }
    long totalSize = total;
    List<String> files = new ArrayList<>();
    ObjectMapper json = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
    String configText = json.writeValueAsString(config) + "\n";
    AtomicFiles.writeNewDirectory(out, dir -> {
      AtomicFiles.writeString(dir.resolve("config.json"), configText);
      Map<String, String> weightMap = new TreeMap<>();
      for (int i = 0; i < shards.size(); i++) {
        String file = shards.size() == 1 ? "model.safetensors"
            : String.format(Locale.ROOT, "model-%05d-of-%05d.safetensors", i + 1, shards.size());
        Map<String, SafetensorsWriter.Streamed> tensors = new LinkedHashMap<>();
        for (String name : shards.get(i)) {
          long[] shape = shapes.get(name);
          long seedOf = seeds.get(name);
          tensors.put(name, new SafetensorsWriter.Streamed(dtype, shape,
              o -> random(o, name, elements(shape), dtype, seedOf)));
          weightMap.put(name, file);
        }
        SafetensorsWriter.writeStreamed(dir.resolve(file), tensors, Map.of("format", "pt"));
        files.add(file);
      }
      if (shards.size() > 1) {
        Map<String, Object> index = new LinkedHashMap<>();
        index.put("metadata", Map.of("total_size", totalSize));
        index.put("weight_map", weightMap);
        AtomicFiles.writeString(dir.resolve("model.safetensors.index.json"), json.writeValueAsString(index) + "\n");
        files.add("model.safetensors.index.json");
      }
    });
    files.add(0, "config.json");
    return new Written(out, files, parameters, total);
  }

  private static final Pattern LAYER = Pattern.compile("^model\\.layers\\.(\\d+)\\.");

  /**
   * {@code LlamaForCausalLM.state_dict()}'s order: the embedding, then layer by layer, then the
   * final norm and the head (the order within a layer is the loader's; shards only split between
   * tensors, so it decides nothing but where a shard ends).
   */
  static List<String> stateDictOrder(java.util.Collection<String> names) {
    List<String> out = new ArrayList<>(names);
    out.sort(java.util.Comparator.comparingInt(SyntheticCheckpoint::position));
    return out;
  }

  private static int position(String name) {
    Matcher m = LAYER.matcher(name);
    if (m.find()) {
      return Integer.parseInt(m.group(1));
    }
    return name.startsWith("model.embed_tokens.") ? -1 : Integer.MAX_VALUE;
  }

  private static long elements(long[] shape) {
    long n = 1;
    for (long d : shape) {
      n = Math.multiplyExact(n, d);
    }
    return n;
  }

  /** Writes {@code n} values of {@code name}'s initialisation in {@code dtype}, block by block. */
  private static void random(OutputStream out, String name, long n, SafetensorsDtype dtype, long seed)
      throws IOException {
    WeightShapes.Init init = WeightShapes.initOf(name);
    SplittableRandom rnd = new SplittableRandom(seed);
    int size = dtype.byteSize();
    ByteBuffer buf = ByteBuffer.allocate(BLOCK * size).order(ByteOrder.LITTLE_ENDIAN);
    float[] v = new float[BLOCK];
    for (long done = 0; done < n; ) {
      int k = (int) Math.min(BLOCK, n - done);
      switch (init) {
        case ZERO -> java.util.Arrays.fill(v, 0, k, 0f);
        case ONE -> java.util.Arrays.fill(v, 0, k, 1f);
        case NORMAL -> gaussians(v, k, rnd);
      }
      buf.clear();
      for (int i = 0; i < k; i++) {
        switch (dtype) {
          case BF16 -> buf.putShort(HalfPrecision.floatToBfloat16(v[i]));
          case F16 -> buf.putShort(HalfPrecision.floatToHalf(v[i]));
          default -> buf.putFloat(v[i]);
        }
      }
      out.write(buf.array(), 0, k * size);
      done += k;
    }
  }

  /** {@code k} values ~ N(0, INIT_STD^2): Box-Muller, both values of each pair used. */
  private static void gaussians(float[] v, int k, SplittableRandom rnd) {
    for (int i = 0; i < k; i += 2) {
      double r = INIT_STD * Math.sqrt(-2 * Math.log(1 - rnd.nextDouble()));
      double t = 2 * Math.PI * rnd.nextDouble();
      v[i] = (float) (r * Math.cos(t));
      if (i + 1 < k) {
        v[i + 1] = (float) (r * Math.sin(t));
      }
    }
  }
}
