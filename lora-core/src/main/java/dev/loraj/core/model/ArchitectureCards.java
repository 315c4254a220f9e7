package dev.loraj.core.model;

import dev.loraj.core.adapter.AdapterConfig;
import dev.loraj.core.adapter.AdapterFactory;
import dev.loraj.core.model.gpt2.Gpt2Model;
import dev.loraj.core.model.llama.LlamaModel;
import dev.loraj.core.model.llama.RopeScaling;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The linear layers of well-known models, from their dimensions alone (no weights): for counting
 * trainable parameters of a method on a model too large to load, as the papers' tables do.
 * Module names are those of the Hugging Face family, so PEFT target names work.
 *
 * <p>Cards (sources: the models' published configs): {@code roberta-base}, {@code roberta-large}
 * (RoBERTa, {@code roberta.encoder.layer.N.attention.self.query}, ...), {@code deberta-v2-xxlarge},
 * {@code deberta-v3-base} (DeBERTa v2/v3, {@code ...attention.self.query_proj}), {@code gpt2-medium},
 * {@code gpt2-large} (fused {@code attn.c_attn}), {@code gpt3-175b} (96 layers, d = 12288; GPT-3
 * has no public checkpoint, so the card uses OPT's module names, the transformers family built to
 * GPT-3's shapes: {@code model.decoder.layers.N.self_attn.q_proj}, {@code fc1}, {@code fc2}),
 * {@code llama-7b}, {@code -13b}, {@code -33b}, {@code -65b}, and the grouped-query decoders
 * {@code qwen2.5-0.5b} (q/k/v biases, tied embeddings), {@code llama-3.2-1b}, {@code llama-3.2-3b}
 * (tied embeddings) and {@code llama-3.1-8b}. Encoder cards hold the encoder only (no task head),
 * as the LoRA paper counts.
 *
 * <p>Aliases, resolved per family to exact module paths: {@code query}, {@code key},
 * {@code value} (W_q, W_k, W_v; on GPT-2 all three are the fused {@code c_attn}, counted once),
 * {@code output} (attention output projection), {@code fc1} (MLP up; on Llama both
 * {@code gate_proj} and {@code up_proj}), {@code fc2} (MLP down). Other names are PEFT target
 * names (exact or dotted suffix).
 */
public final class ArchitectureCards {
  private ArchitectureCards() {}

  /**
   * One model's dimensions.
   *
   * @param family roberta, deberta-v2, gpt2, opt or llama (module naming)
   */
  public record Card(String name, String family, int layers, int hidden, int intermediate,
      int heads, int vocab, int kvHeads, int headDim, boolean tiedEmbeddings, boolean qkvBias) {

    /** A card with as many key/value heads as heads, head_dim = hidden / heads, an untied head. */
    public Card(String name, String family, int layers, int hidden, int intermediate, int heads,
        int vocab) {
      this(name, family, layers, hidden, intermediate, heads, vocab, heads, hidden / heads, false, false);
    }

    /** The linear sites, with the family's module names. */
    public List<LinearSite> sites() {
      return switch (family) {
        case "roberta" -> encoder("roberta", "query", "key", "value");
        case "deberta-v2" -> encoder("deberta", "query_proj", "key_proj", "value_proj");
        case "gpt2" -> Gpt2Model.sites(new Gpt2Model.Config(vocab, 1024, hidden, layers, heads,
            intermediate, 1e-5, "gelu_new", true, false));
        case "opt" -> opt();
        case "llama" -> LlamaModel.sites(new LlamaModel.Config("llama", vocab, hidden,
            intermediate, layers, heads, kvHeads, headDim, 1e-6, RopeScaling.unscaled(10000),
            "silu", tiedEmbeddings, qkvBias, false, false, 0));
        default -> throw new IllegalStateException("unknown card family " + family);
      };
    }

    private List<LinearSite> encoder(String prefix, String q, String k, String v) {
      List<LinearSite> s = new ArrayList<>();
      for (int i = 0; i < layers; i++) {
        String p = prefix + ".encoder.layer." + i + ".";
        s.add(new LinearSite(p + "attention.self." + q, hidden, hidden, false, false, true));
        s.add(new LinearSite(p + "attention.self." + k, hidden, hidden, false, false, true));
        s.add(new LinearSite(p + "attention.self." + v, hidden, hidden, false, false, true));
        s.add(new LinearSite(p + "attention.output.dense", hidden, hidden, false, false, true));
        s.add(new LinearSite(p + "intermediate.dense", hidden, intermediate, false, false, true));
        s.add(new LinearSite(p + "output.dense", intermediate, hidden, false, false, true));
      }
      return List.copyOf(s);
    }

    private List<LinearSite> opt() {
      List<LinearSite> s = new ArrayList<>();
      for (int i = 0; i < layers; i++) {
        String p = "model.decoder.layers." + i + ".";
        for (String n : new String[] {"q_proj", "k_proj", "v_proj", "out_proj"}) {
          s.add(new LinearSite(p + "self_attn." + n, hidden, hidden, false, false, true));
        }
        s.add(new LinearSite(p + "fc1", hidden, intermediate, false, false, true));
        s.add(new LinearSite(p + "fc2", intermediate, hidden, false, false, true));
      }
      return List.copyOf(s);
    }
  }

  private static final Map<String, Card> CARDS = new LinkedHashMap<>();

  static {
    add(new Card("roberta-base", "roberta", 12, 768, 3072, 12, 50265));
    add(new Card("roberta-large", "roberta", 24, 1024, 4096, 16, 50265));
    add(new Card("deberta-v2-xxlarge", "deberta-v2", 48, 1536, 6144, 24, 128100));
    add(new Card("deberta-v3-base", "deberta-v2", 12, 768, 3072, 12, 128100));
    add(new Card("gpt2-medium", "gpt2", 24, 1024, 4096, 16, 50257));
    add(new Card("gpt2-large", "gpt2", 36, 1280, 5120, 20, 50257));
    add(new Card("gpt3-175b", "opt", 96, 12288, 49152, 96, 50257));
    add(new Card("llama-7b", "llama", 32, 4096, 11008, 32, 32000));
    add(new Card("llama-13b", "llama", 40, 5120, 13824, 40, 32000));
    add(new Card("llama-33b", "llama", 60, 6656, 17920, 52, 32000));
    add(new Card("llama-65b", "llama", 80, 8192, 22016, 64, 32000));
    // grouped-query attention, tied embeddings (all but 8B), Qwen2's q/k/v biases
    add(new Card("qwen2.5-0.5b", "llama", 24, 896, 4864, 14, 151936, 2, 64, true, true));
    add(new Card("llama-3.2-1b", "llama", 16, 2048, 8192, 32, 128256, 8, 64, true, false));
    add(new Card("llama-3.2-3b", "llama", 28, 3072, 8192, 24, 128256, 8, 128, true, false));
    add(new Card("llama-3.1-8b", "llama", 32, 4096, 14336, 32, 128256, 8, 128, false, false));
  }

  private static void add(Card c) {
    CARDS.put(c.name(), c);
  }

  /** Alias -> module paths relative to a block ({@code <prefix>.N.}), across families. */
  private static final Map<String, Set<String>> ALIASES = Map.of(
      "query", Set.of("attention.self.query", "attention.self.query_proj", "attn.c_attn",
          "self_attn.q_proj"),
      "key", Set.of("attention.self.key", "attention.self.key_proj", "attn.c_attn",
          "self_attn.k_proj"),
      "value", Set.of("attention.self.value", "attention.self.value_proj", "attn.c_attn",
          "self_attn.v_proj"),
      "output", Set.of("attention.output.dense", "attn.c_proj", "self_attn.out_proj",
          "self_attn.o_proj"),
      "fc1", Set.of("intermediate.dense", "mlp.c_fc", "fc1", "mlp.gate_proj", "mlp.up_proj"),
      "fc2", Set.of("output.dense", "mlp.c_proj", "fc2", "mlp.down_proj"));

  public static List<String> names() {
    return List.copyOf(CARDS.keySet());
  }

  public static Card card(String name) {
    Card c = CARDS.get(name);
    if (c == null) {
      throw new IllegalArgumentException("no architecture card '" + name + "'; cards: " + names());
    }
    return c;
  }

  /** The sites of a card, or of the Hugging Face model directory {@code cardOrDir}. */
  public static List<LinearSite> sites(String cardOrDir) throws IOException {
    if (CARDS.containsKey(cardOrDir)) {
      return CARDS.get(cardOrDir).sites();
    }
    Path dir = Path.of(cardOrDir);
    if (Files.isRegularFile(dir.resolve("config.json"))) {
      return HfModels.sites(dir);
    }
    throw new IllegalArgumentException(
        "'" + cardOrDir + "' is neither an architecture card (" + names()
            + ") nor a model directory with config.json");
  }

  /**
   * Targets for {@code names} on {@code sites}: aliases become the exact paths they denote, other
   * names stay PEFT target names; {@code all-linear} alone is PEFT's all-linear. An alias that
   * denotes no module is an error.
   */
  public static Targets targets(List<String> names, List<LinearSite> sites) {
    if (names.equals(List.of(Targets.ALL_LINEAR))) {
      return Targets.allLinear();
    }
    Set<String> out = new LinkedHashSet<>();
    for (String n : names) {
      Set<String> rel = ALIASES.get(n);
      if (rel == null) {
        out.add(n);
        continue;
      }
      List<String> paths = sites.stream().filter(s -> rel.contains(relative(s.path())))
          .map(LinearSite::path).toList();
      if (paths.isEmpty()) {
        throw new IllegalArgumentException(
            "alias '" + n + "' denotes no module here; available: " + Targets.available(sites));
      }
      out.addAll(paths);
    }
    return Targets.of(out.toArray(String[]::new));
  }

  /** The path after the block index: {@code roberta.encoder.layer.3.output.dense -> output.dense}. */
  static String relative(String path) {
    java.util.regex.Matcher m = java.util.regex.Pattern.compile("\\.\\d+\\.").matcher(path);
    return m.find() ? path.substring(m.end()) : path;
  }

  /**
   * Trainable parameters the adapter would add: the factory's closed form summed over the
   * selected sites, with rank/alpha patterns applied. Heads of {@code modules_to_save} are not
   * counted (the papers' convention).
   */
  public static long trainableParameters(List<LinearSite> sites, Targets targets,
      AdapterConfig config, AdapterFactory<?> factory) {
    // sites grouped by their effective config: a variant sharing parameters across sites
    // (the random-subspace method) counts them once per group
    Map<AdapterConfig, List<LinearSite>> groups = new LinkedHashMap<>();
    for (LinearSite s : targets.resolve(sites)) {
      AdapterConfig c = config;
      int r = targets.rankFor(s, c.rank());
      double a = targets.alphaFor(s, c.alpha());
      if (r != c.rank() || a != c.alpha()) {
        c = c.withRankAndAlpha(r, a);
      }
      groups.computeIfAbsent(c, k -> new ArrayList<>()).add(s);
    }
    long n = 0;
    for (Map.Entry<AdapterConfig, List<LinearSite>> e : groups.entrySet()) {
      n += factory.trainableParametersUnchecked(e.getKey(), e.getValue());
    }
    return n;
  }

  /** As above for a card or model directory, aliases allowed, the factory's default config at rank r. */
  public static long trainableParameters(String cardOrDir, List<String> targetNames, int rank,
      AdapterFactory<?> factory) throws IOException {
    List<LinearSite> sites = sites(cardOrDir);
    AdapterConfig def = factory.defaultConfig();
    return trainableParameters(sites, targets(targetNames, sites),
        def.withRankAndAlpha(rank, def.alpha()), factory);
  }
}
