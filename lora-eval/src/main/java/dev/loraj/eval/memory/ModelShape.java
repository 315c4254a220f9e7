package dev.loraj.eval.memory;

import dev.loraj.core.io.ShardedCheckpoint;
import dev.loraj.core.model.ArchitectureCards;
import dev.loraj.core.model.BaseModel;
import dev.loraj.core.model.HfConfig;
import dev.loraj.core.model.HfModels;
import dev.loraj.core.model.LinearSite;
import dev.loraj.core.model.bert.BertConfig;
import dev.loraj.core.model.bert.BertModel;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * What the memory estimate needs to know about a transformer: its dimensions (for activations),
 * its linear sites (for adapters and quantization) and its total parameter count (for frozen
 * weights and full fine-tuning).
 *
 * <p>Totals of the built-in cards are the linear sites plus the family's embeddings and norms:
 * BERT-like encoders (RoBERTa, DeBERTa) {@code (V + P + T) h + 2h} for the embeddings and their
 * LayerNorm, {@code 4h} per layer for two LayerNorms; GPT-2 and GPT-3 (OPT naming) a tied
 * {@code V h} table, learned positions {@code P h}, {@code 4h} per layer and a final {@code 2h};
 * LLaMA an embedding {@code V h} (its untied {@code lm_head} is a linear site), RMSNorm {@code 2h}
 * per layer and a final {@code h}. LLaMA-7B comes out at 6,738,415,616 and LLaMA-65B at
 * 65,285,660,672 (the released checkpoints' counts); GPT-3 175B at 174.6B (the paper's "175B").
 * DeBERTa's relative-position tables are approximated by {@code P h}.
 *
 * @param name card name or directory
 * @param family roberta, deberta-v2, bert, gpt2, opt, llama (or the config's model_type)
 * @param layers transformer blocks L
 * @param hidden h
 * @param intermediate MLP width (4h for GPT-style MLPs)
 * @param heads attention heads a
 * @param vocab V
 * @param gatedMlp SwiGLU MLP (gate and up projections) instead of a GELU MLP
 * @param dropout whether the architecture trains with dropout (masks are stored)
 * @param totalParams every parameter of the model
 * @param sites the linear layers
 * @param embeddings the token-embedding tables adapters may target (their weights are in
 *     {@code totalParams}, not in {@link #linearParams()}); empty for the cards and directories
 */
public record ModelShape(String name, String family, int layers, int hidden, int intermediate,
    int heads, int vocab, boolean gatedMlp, boolean dropout, long totalParams,
    List<LinearSite> sites, List<LinearSite> embeddings) {

  public ModelShape {
    if (layers <= 0 || hidden <= 0 || intermediate <= 0 || heads <= 0 || vocab <= 0) {
      throw new IllegalArgumentException("model shape '" + name + "': layers " + layers + ", hidden " + hidden
          + ", intermediate " + intermediate + ", heads " + heads + ", vocab " + vocab + " must all be > 0");
    }
    sites = List.copyOf(sites);
    embeddings = embeddings == null ? List.of() : List.copyOf(embeddings);
  }

  /** A shape without embedding sites. */
  public ModelShape(String name, String family, int layers, int hidden, int intermediate,
      int heads, int vocab, boolean gatedMlp, boolean dropout, long totalParams, List<LinearSite> sites) {
    this(name, family, layers, hidden, intermediate, heads, vocab, gatedMlp, dropout, totalParams, sites, List.of());
  }

  /** Every site an adapter may target: the embedding tables, then the linear layers. */
  public List<LinearSite> adapterSites() {
    if (embeddings.isEmpty()) {
      return sites;
    }
    List<LinearSite> all = new java.util.ArrayList<>(embeddings);
    all.addAll(sites);
    return List.copyOf(all);
  }

  /** Parameters of the linear sites that are not output heads (weights only). */
  public long linearParams() {
    return sites.stream().filter(s -> !s.outputHead()).mapToLong(s -> (long) s.in() * s.out()).sum();
  }

  /** A built-in architecture card ({@link ArchitectureCards}) or a Hugging Face model directory. */
  public static ModelShape of(String cardOrDir) throws IOException {
    if (ArchitectureCards.names().contains(cardOrDir)) {
      return card(ArchitectureCards.card(cardOrDir));
    }
    Path dir = Path.of(cardOrDir);
    if (Files.isRegularFile(dir.resolve("config.json"))) {
      return directory(dir);
    }
    throw new IllegalArgumentException("--model = '" + cardOrDir + "': neither an architecture card "
        + ArchitectureCards.names() + " nor a directory with config.json");
  }

  /**
   * The shape of a built model: a BERT encoder's dimensions from its config; any other family
   * (MLPs, the synthetic tasks' models) as one layer as wide as its widest linear site, which
   * is exact for the weights and only a rough activation estimate.
   */
  public static ModelShape of(BaseModel base) {
    if (base instanceof BertModel bert) {
      BertConfig c = bert.config();
      return new ModelShape(base.family(), "bert", c.numHiddenLayers(), c.hiddenSize(), c.intermediateSize(),
          c.numAttentionHeads(), c.vocabSize(), false, false, base.parameterCount(), base.linearSites(),
          base.embeddingSites());
    }
    int width = base.linearSites().stream().mapToInt(s -> Math.max(s.in(), s.out())).max().orElse(1);
    return new ModelShape(base.family(), base.family(), 1, width, width, 1, 1, false, false,
        base.parameterCount(), base.linearSites(), base.embeddingSites());
  }

  static ModelShape card(ArchitectureCards.Card c) {
    List<LinearSite> sites = c.sites();
    int positions = switch (c.family()) {
      case "roberta" -> 514;
      case "deberta-v2" -> 512;
      case "gpt2" -> 1024;
      case "opt" -> 2048;
      default -> 0; // llama: rotary, no table
    };
    long total = linearWithBias(sites) + nonLinear(c.family(), c.layers(), c.hidden(), c.vocab(), positions,
        c.family().equals("roberta") ? 1 : 0);
    boolean dropout = !c.family().equals("llama");
    return new ModelShape(c.name(), c.family(), c.layers(), c.hidden(), c.intermediate(), c.heads(), c.vocab(),
        c.family().equals("llama"), dropout, total, sites);
  }

  static ModelShape directory(Path dir) throws IOException {
    HfConfig cfg = HfConfig.read(dir);
    List<LinearSite> sites = HfModels.sites(cfg);
    String type = cfg.modelType();
    int hidden = cfg.positiveInt("hidden_size", "n_embd");
    int layers = cfg.positiveInt("num_hidden_layers", "n_layer");
    int heads = cfg.positiveInt("num_attention_heads", "n_head");
    int inter = cfg.positiveInt(4 * hidden, "intermediate_size", "n_inner");
    int vocab = cfg.positiveInt("vocab_size");
    String family = switch (type) {
      case "gpt2" -> "gpt2";
      case "bert" -> "bert";
      default -> "llama";
    };
    int positions = family.equals("llama") ? 0 : cfg.positiveInt(512, "max_position_embeddings", "n_positions");
    long total = safetensorsTotal(dir);
    if (total <= 0) {
      total = linearWithBias(sites) + nonLinear(family, layers, hidden, vocab, positions,
          family.equals("bert") ? cfg.positiveInt(2, "type_vocab_size") : 0);
    }
    boolean dropout = !family.equals("llama") && cfg.number(0.1, "hidden_dropout_prob", "resid_pdrop") > 0;
    return new ModelShape(dir.toString(), family, layers, hidden, inter, heads, vocab, family.equals("llama"),
        dropout, total, sites);
  }

  /** Sum of the tensor sizes in the directory's safetensors files, or 0 when there are none. */
  private static long safetensorsTotal(Path dir) {
    try (ShardedCheckpoint cp = ShardedCheckpoint.open(dir)) {
      long n = 0;
      for (String name : cp.names()) {
        long e = 1;
        for (long d : cp.info(name).shape()) {
          e *= d;
        }
        n += e;
      }
      return n;
    } catch (IOException | RuntimeException e) {
      return 0;
    }
  }

  static long linearWithBias(List<LinearSite> sites) {
    return sites.stream().mapToLong(s -> (long) s.in() * s.out() + (s.hasBias() ? s.out() : 0)).sum();
  }

  /** Embeddings and norms by family (see the class comment). */
  static long nonLinear(String family, int layers, int h, int vocab, int positions, int typeVocab) {
    long hh = h;
    return switch (family) {
      case "roberta", "deberta-v2", "bert" -> (vocab + (long) positions + typeVocab) * hh + 2 * hh + 4 * hh * layers;
      case "gpt2", "opt" -> (vocab + (long) positions) * hh + 4 * hh * layers + 2 * hh;
      default -> vocab * hh + 2 * hh * layers + hh; // llama
    };
  }
}
