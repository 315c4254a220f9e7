package dev.loraj.eval.reproduce;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The reproductions, in report order: exact ones first, then measured, then planned. An explicit
 * list (not a ServiceLoader): the report's order is part of its meaning.
 */
public final class Reproductions {
  private Reproductions() {}

  private static final List<Reproduction> ALL = List.of(
      new LoraParameterCounts(),
      new LoraGpt3Budget(),
      new LoraCheckpointSize(),
      new AdaLoraLoraBudgets(),
      new Nf4Codebook(),
      new DoubleQuantSaving(),
      new Nf4QuantizationError(),
      new LoraSubspaceSimilarity(),
      new RsLoraRankScaling(),
      new Planned("pissa-convergence", "PiSSA converges faster than LoRA",
          "PiSSA, arXiv 2404.02948, section 5 and Figure 4",
          "Initialising A and B from the principal singular triplets of W makes the loss fall faster"
              + " than LoRA's Gaussian/zero init at the same rank and steps."),
      new Planned("qpissa-vs-loftq", "QPiSSA reduces quantization error more than LoftQ",
          "PiSSA, arXiv 2404.02948, Table 4 (error reduction ratio)",
          "Quantizing the PiSSA residual with NF4 reduces the nuclear-norm quantization error more"
              + " than QLoRA and LoftQ at the same rank."),
      new Planned("olora-forgetting", "O-LoRA reduces forgetting in continual learning",
          "O-LoRA, arXiv 2310.14152, Table 1 (standard CL benchmark, orders 1-3)",
          "Orthogonal subspaces per task give higher average accuracy than sequential LoRA."),
      new Planned("adalora-vs-lora", "AdaLoRA beats LoRA at the same budget",
          "AdaLoRA, arXiv 2303.10512, Table 1",
          "Adaptive rank allocation outperforms uniform LoRA at matched parameter budgets,"
              + " most clearly at small budgets."),
      new IntrinsicDimensionMnist());

  /** Every reproduction, planned ones included. */
  public static List<Reproduction> all() {
    return ALL;
  }

  /** The reproduction with this id. */
  public static Reproduction get(String id) {
    for (Reproduction r : ALL) {
      if (r.id().equals(id)) {
        return r;
      }
    }
    throw new IllegalArgumentException("no reproduction '" + id + "'; ids: " + ids());
  }

  public static List<String> ids() {
    return ALL.stream().map(Reproduction::id).toList();
  }

  /** Runs one reproduction (planned ones return their entry), timing it. */
  public static ReproductionResult run(Reproduction r, boolean quick) throws Exception {
    if (!r.implemented()) {
      return ReproductionResult.planned(r);
    }
    long t0 = System.nanoTime();
    ReproductionResult res = r.run(quick);
    return res.withSeconds((System.nanoTime() - t0) / 1e9);
  }

  /** Runs all, in order. */
  public static Map<String, ReproductionResult> runAll(boolean quick) throws Exception {
    Map<String, ReproductionResult> out = new LinkedHashMap<>();
    for (Reproduction r : ALL) {
      out.put(r.id(), run(r, quick));
    }
    return out;
  }
}
