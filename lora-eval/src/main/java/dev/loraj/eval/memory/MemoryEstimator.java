package dev.loraj.eval.memory;

import dev.loraj.core.adapter.AdapterConfig;
import dev.loraj.core.adapter.AdapterFactory;
import dev.loraj.core.adapter.AdapterRegistry;
import dev.loraj.core.graph.LmHeadCrossEntropy;
import dev.loraj.core.model.ArchitectureCards;
import dev.loraj.core.model.LinearSite;
import dev.loraj.core.model.Targets;
import dev.loraj.core.quant.QuantFormat;
import dev.loraj.core.quant.QuantizedWeight;
import dev.loraj.variants.qlora.QuantizedLoraConfig;
import java.util.ArrayList;
import java.util.List;

/**
 * Analytic training memory: frozen weights, trainable weights, gradients, optimizer state,
 * activations ({@link ActivationModel}) and transient workspace, for full fine-tuning and every
 * registered adapter. Trainable counts come from each factory's closed form (the same numbers
 * {@code lora params} prints), so a variant whose count differs (DoRA's magnitude, VeRA's
 * vectors, AdaLoRA's E) is right without a special case here. Where the frozen side differs:
 *
 * <ul>
 *   <li>full: every parameter is trainable, nothing is frozen.</li>
 *   <li>qlora, loftq, qpissa (QLoRA arXiv 2305.14314, section 3): every adapted linear weight is
 *       NF4, 4 bits plus its block-64 absmax scales, 32/64 = 0.5 bit/param, or with double
 *       quantization 8/64 + 32/(64 x 256) = 0.127 bit/param (exactly as {@code QuantizedWeight}
 *       stores it, reported as {@code quantized}); embeddings, norms and the head stay in the
 *       compute dtype; one layer's weight is dequantized at a time (workspace).</li>
 *   <li>adapters' frozen state beside their parameters (VeRA's projections, LoRA-FA's A,
 *       Delta-LoRA's dense delta): each factory's {@code frozenParameters}.</li>
 *   <li>dora (arXiv 2402.09353): the column norm of W + s B A needs one dense [out, in] matrix per
 *       site at a time (workspace).</li>
 * </ul>
 */
public final class MemoryEstimator {

  /** The variant name of training only the given base parameters (a classification head). */
  public static final String HEAD_ONLY = "head_only";

  private final AdapterRegistry registry;

  public MemoryEstimator(AdapterRegistry registry) {
    this.registry = registry;
  }

  public MemoryEstimator() {
    this(AdapterRegistry.discover());
  }

  /** NF4 storage per parameter: 4 bits of code plus the block scales. */
  public static double nf4BitsPerParam(boolean doubleQuant) {
    return 4 + (doubleQuant ? 8.0 / 64 + 32.0 / (64 * 256) : 32.0 / 64);
  }

  /** Weights (not biases) of every linear site, output heads included. */
  private static long linearWeights(ModelShape m) {
    return m.sites().stream().mapToLong(x -> (long) x.in() * x.out()).sum();
  }

  /**
   * Parameters held in a 16-bit {@code frozenDtype} besides the linear weights: a Llama-family
   * decoder's token-embedding table, which the loader (HfModels) holds in 16 bits with them.
   */
  private static long heldTable(ModelShape m, Precision frozenDtype, Precision compute) {
    return m.family().equals("llama") && frozenDtype.bytes() < compute.bytes() ? (long) m.vocab() * m.hidden() : 0;
  }

  public MemoryBreakdown estimate(ModelShape m, MemorySettings s) {
    return estimate(m, s, 0);
  }

  /**
   * As {@link #estimate(ModelShape, MemorySettings)}, with {@code trainedBaseParams} base
   * parameters (a classification head, {@code modules_to_save}) trained beside the adapter, as
   * the adapter's own copies (the originals stay frozen, as in PEFT); the variant
   * {@value #HEAD_ONLY} trains only those, in place.
   */
  public MemoryBreakdown estimate(ModelShape m, MemorySettings s, long trainedBaseParams) {
    return estimate(m, s, trainedBaseParams, null, null);
  }

  /**
   * As {@link #estimate(ModelShape, MemorySettings, long)} for an adapter with exactly this
   * {@code config} on these {@code targets} (a sweep's trial), instead of the variant's default
   * config at the settings' rank on the settings' target names; either may be null.
   */
  public MemoryBreakdown estimate(ModelShape m, MemorySettings s, long trainedBaseParams, AdapterConfig config,
      Targets targetsGiven) {
    return estimate(m, s, trainedBaseParams, config, targetsGiven, s.dtype());
  }

  /**
   * As {@link #estimate(ModelShape, MemorySettings, long, AdapterConfig, Targets)} with the
   * frozen dense linear weights stored in {@code frozenDtype} (a bf16 checkpoint kept in 16 bits
   * while the trainable side computes in the settings' dtype); embeddings, norms, biases and
   * adapter buffers stay in the settings' dtype, as the loader keeps them.
   */
  public MemoryBreakdown estimate(ModelShape m, MemorySettings s, long trainedBaseParams, AdapterConfig config,
      Targets targetsGiven, Precision frozenDtype) {
    if (trainedBaseParams < 0 || trainedBaseParams > m.totalParams()) {
      throw new IllegalArgumentException("trainedBaseParams: " + trainedBaseParams + ", expected 0.."
          + m.totalParams());
    }
    List<String> notes = new ArrayList<>();
    Precision e = s.dtype();
    long frozen;
    long quantized = 0;
    long trainable;
    long workspace = 0;
    List<LinearSite> adapted = List.of();
    if (s.variant().equals("full")) {
      trainable = m.totalParams();
      frozen = 0;
    } else if (s.variant().equals(HEAD_ONLY)) {
      trainable = trainedBaseParams;
      long linear = Math.max(0, linearWeights(m) - trainedBaseParams);
      frozen = linear * frozenDtype.bytes() + (m.totalParams() - trainedBaseParams - linear) * e.bytes();
      notes.add("head only: " + trainedBaseParams + " base parameters trained, the rest frozen");
    } else {
      AdapterFactory<?> f = config != null ? registry.forConfig(config) : registry.get(s.variant());
      List<String> names = s.targets() != null ? s.targets()
          : s.quantized() ? List.of(Targets.ALL_LINEAR) : List.of("query", "value");
      Targets targets = targetsGiven != null ? targetsGiven : ArchitectureCards.targets(names, m.adapterSites());
      AdapterConfig def = f.defaultConfig();
      AdapterConfig cfg = config != null ? config : def.withRankAndAlpha(s.rank(), def.alpha());
      adapted = targets.resolve(m.adapterSites());
      trainable = ArchitectureCards.trainableParameters(m.adapterSites(), targets, cfg, f) + trainedBaseParams;
      notes.add("targets " + (targetsGiven != null ? targetsGiven : names) + ": " + adapted.size() + " sites");
      // the adapter trains its own copy of modules_to_save: the base keeps the original, frozen
      long denseFrozen = m.totalParams();
      long quantizedParams = 0;
      boolean doubleQuant = cfg instanceof QuantizedLoraConfig q ? q.doubleQuant() && s.doubleQuant() : s.doubleQuant();
      if (s.quantized() || cfg instanceof QuantizedLoraConfig) {
        // the adapted sites' weights are replaced by their quantized form (QuantizedWeight)
        QuantFormat format = cfg instanceof QuantizedLoraConfig q ? q.format() : QuantFormat.NF4;
        int block = cfg instanceof QuantizedLoraConfig q ? q.blockSize() : QuantizedWeight.DEFAULT_BLOCK_SIZE;
        long maxSite = 0;
        for (LinearSite x : adapted) {
          if (x.embedding()) {
            continue; // embedding tables stay float (no quantizing variant adapts them)
          }
          quantizedParams += (long) x.in() * x.out();
          quantized += QuantizedWeight.storageBytes(format, x.out(), x.in(), block, doubleQuant);
          maxSite = Math.max(maxSite, (long) x.in() * x.out());
        }
        denseFrozen -= quantizedParams;
        workspace += maxSite * e.bytes();
        notes.add(String.format(java.util.Locale.ROOT,
            "%s base: %,d linear parameters at %.3f bits (%s), the other %,d not quantized; one dequantized"
                + " weight as workspace", format, quantizedParams, 8.0 * quantized / Math.max(1, quantizedParams),
            doubleQuant ? "double quantization" : "fp32 scales", denseFrozen));
      }
      long extra = f.frozenParametersUnchecked(cfg, adapted);
      if (extra > 0) {
        notes.add(f.name() + ": " + extra + " frozen values beside the parameters (buffers)");
      }
      long table = heldTable(m, frozenDtype, e);
      long linear = linearWeights(m) - quantizedParams + table;
      frozen = linear * frozenDtype.bytes() + (denseFrozen - linear + extra) * e.bytes();
      if (frozenDtype != e && linear > 0) {
        notes.add(String.format(java.util.Locale.ROOT, "frozen linear weights%s (%,d) held in %s, computed in %s",
            table > 0 ? " and the token-embedding table" : "", linear, frozenDtype.json(), e.json()));
      }
      if (s.variant().equals("dora")) {
        workspace += adapted.stream().mapToLong(x -> (long) x.in() * x.out()).max().orElse(0) * e.bytes();
        notes.add("DoRA: one dense W + s B A at a time for the column norm (workspace)");
      }
    }
    long trainableBytes = trainable * e.bytes();
    if (s.masterWeights() && e != Precision.FP32) {
      trainableBytes += trainable * 4;
      notes.add("fp32 master copy of the trainable parameters");
    }
    long gradients = trainable * e.bytes();
    long optimizer = trainable * (long) s.optimizer().bytesPerParam();
    if (s.optimizer() == MemorySettings.Optimizer.ADAMW_16BIT) {
      optimizer = trainable * 2L * e.bytes();
    }
    long act = ActivationModel.stackBytes(m, s.batch(), s.seq(), e, s.checkpointing());
    long adapterAct = adapted.size() * s.batch() * s.seq() * (long) s.rank() * e.bytes();
    boolean lm = !(m.family().equals("roberta") || m.family().equals("deberta-v2") || m.family().equals("bert"));
    // a LLaMA-family or GPT-2 head that stays frozen (tied to the embedding table, or an lm_head
    // no adapter targets): the loss is computed a vocabulary chunk at a time from the hidden
    // states (LmHeadCrossEntropy), without the logits
    boolean fusedHead = lm && (m.family().equals("llama") || m.family().equals("gpt2"))
        && !s.variant().equals("full")
        && trainedBaseParams == 0 && adapted.stream().noneMatch(LinearSite::outputHead);
    long logits = !lm ? 0 : fusedHead
        ? ActivationModel.fusedHeadBytes(m, s.batch(), s.seq(), LmHeadCrossEntropy.DEFAULT_CHUNK_ROWS)
        : ActivationModel.logitsBytes(m, s.batch(), s.seq());
    notes.add(!lm ? "encoder: the classification head's outputs are negligible and not counted"
        : fusedHead ? "language-model loss through the frozen head, a vocabulary chunk at a time:"
            + " no logits; its output (loss and dL/dh), their gradients and one chunk of logits counted"
        : "language-model loss on label ids: fp32 logits and their gradient counted");
    return new MemoryBreakdown(m.name(), s, m.totalParams(), trainable, frozen, quantized, trainableBytes, gradients,
        optimizer, act + adapterAct + logits, workspace, ActivationModel.formula(s.checkpointing()), notes);
  }
}
