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
      new LoraGpt3Memory(),
      new QloraMemory65b(),
      new Nf4QuantizationError(),
      new LoraSubspaceSimilarity(),
      new RsLoraRankScaling(),
      new PissaConvergence(),
      new QPissaVsLoftQ(),
      new OLoraForgetting(),
      new AdaLoraVsLora(),
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
