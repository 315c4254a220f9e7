package dev.loraj.eval.memory;

import dev.loraj.core.adapter.AdapterConfig;
import dev.loraj.core.adapter.AdapterFactory;
import dev.loraj.core.adapter.AdapterRegistry;
import dev.loraj.core.model.ArchitectureCards;
import dev.loraj.core.model.LinearSite;
import dev.loraj.core.model.Targets;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Analytic training memory: frozen weights, trainable weights, gradients, optimizer state,
 * activations ({@link ActivationModel}) and transient workspace, for full fine-tuning and every
 * registered adapter. Trainable counts come from each factory's closed form (the same numbers
 * {@code lora params} prints), so a variant whose count differs (DoRA's magnitude, VeRA's
 * vectors, AdaLoRA's E) is right without a special case here. Where the frozen side differs:
 *
 * <ul>
 *   <li>full: every parameter is trainable, nothing is frozen.</li>
 *   <li>qlora, loftq, qpissa (QLoRA arXiv 2305.14314, section 3): every non-head linear weight is
 *       NF4, 4 bits plus its block-64 absmax scales, 32/64 = 0.5 bit/param, or with double
 *       quantization 8/64 + 32/(64 x 256) = 0.127 bit/param; embeddings, norms and the head stay
 *       in the compute dtype; one layer's weight is dequantized at a time (workspace).</li>
 *   <li>vera (arXiv 2310.11454): frozen shared projections A [r, in] and B [out, r], one pair per
 *       distinct site shape.</li>
 *   <li>lora-fa (arXiv 2308.03303): A [r, in] is frozen (a buffer), only B trains.</li>
 *   <li>dora (arXiv 2402.09353): the column norm of W + s B A needs one dense [out, in] matrix per
 *       site at a time (workspace).</li>
 * </ul>
 */
public final class MemoryEstimator {

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

  public MemoryBreakdown estimate(ModelShape m, MemorySettings s) {
    List<String> notes = new ArrayList<>();
    Precision e = s.dtype();
    long frozen;
    long trainable;
    long workspace = 0;
    List<LinearSite> adapted = List.of();
    if (s.variant().equals("full")) {
      trainable = m.totalParams();
      frozen = 0;
    } else {
      AdapterFactory<?> f = registry.get(s.variant());
      List<String> names = s.targets() != null ? s.targets()
          : s.quantized() ? List.of(Targets.ALL_LINEAR) : List.of("query", "value");
      Targets targets = ArchitectureCards.targets(names, m.sites());
      AdapterConfig def = f.defaultConfig();
      AdapterConfig cfg = def.withRankAndAlpha(s.rank(), def.alpha());
      adapted = targets.resolve(m.sites());
      trainable = ArchitectureCards.trainableParameters(m.sites(), targets, cfg, f);
      notes.add("targets " + names + ": " + adapted.size() + " sites");
      if (s.quantized()) {
        long quantizedParams = m.linearParams();
        double bits = nf4BitsPerParam(s.doubleQuant());
        long q = (long) Math.ceil(quantizedParams * bits / 8);
        frozen = q + (m.totalParams() - quantizedParams) * e.bytes();
        long maxSite = m.sites().stream().filter(x -> !x.outputHead()).mapToLong(x -> (long) x.in() * x.out())
            .max().orElse(0);
        workspace += maxSite * e.bytes();
        notes.add(String.format(java.util.Locale.ROOT,
            "NF4 base: %,d linear parameters at %.3f bits (%s), the other %,d in %s; one dequantized weight as"
                + " workspace", quantizedParams, bits, s.doubleQuant() ? "double quantization" : "fp32 scales",
            m.totalParams() - quantizedParams, e.json()));
      } else {
        frozen = m.totalParams() * e.bytes();
      }
      switch (s.variant()) {
        case "vera" -> {
          Set<String> shapes = new HashSet<>();
          long shared = 0;
          for (LinearSite x : adapted) {
            if (shapes.add(x.in() + "x" + x.out())) {
              shared += (long) s.rank() * (x.in() + x.out());
            }
          }
          frozen += shared * e.bytes();
          notes.add("VeRA: shared frozen projections, " + shapes.size() + " distinct shapes, " + shared + " values");
        }
        case "lora-fa" -> {
          long a = adapted.stream().mapToLong(x -> (long) s.rank() * x.in()).sum();
          frozen += a * e.bytes();
          notes.add("LoRA-FA: A frozen (" + a + " values)");
        }
        case "dora" -> {
          workspace += adapted.stream().mapToLong(x -> (long) x.in() * x.out()).max().orElse(0) * e.bytes();
          notes.add("DoRA: one dense W + s B A at a time for the column norm (workspace)");
        }
        default -> { }
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
    long logits = lm ? ActivationModel.logitsBytes(m, s.batch(), s.seq()) : 0;
    notes.add(lm ? "language-model loss: fp32 logits and their gradient counted"
        : "encoder: the classification head's outputs are negligible and not counted");
    return new MemoryBreakdown(m.name(), s, m.totalParams(), trainable, frozen, trainableBytes, gradients,
        optimizer, act + adapterAct + logits, workspace, ActivationModel.formula(s.checkpointing()), notes);
  }
}
