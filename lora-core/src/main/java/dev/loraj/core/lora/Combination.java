package dev.loraj.core.lora;

import dev.loraj.core.adapter.Adapter;
import dev.loraj.core.adapter.AdapterSpec;
import dev.loraj.core.linalg.Svd;
import dev.loraj.core.linalg.SvdResult;
import dev.loraj.core.model.LinearSite;
import dev.loraj.core.model.PeftModel;
import dev.loraj.core.model.Targets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Combines named LoRA adapters into a new one with weights w_i (PEFT's {@code add_weighted_adapter}):
 * <ul>
 *   <li>{@link Type#CAT}: A' = [w_1 s_1 A_1; ...; w_n s_n A_n] (rows), B' = [B_1, ..., B_n]
 *       (columns), s' = 1: exactly {@code sum_i w_i dW_i}, rank = sum of ranks;</li>
 *   <li>{@link Type#SVD}: the rank-k truncated SVD of {@code sum_i w_i dW_i}: B' = U_k S_k,
 *       A' = V_k^T, s' = 1 (the best rank-k approximation, Eckart-Young);</li>
 *   <li>{@link Type#LINEAR}: equal ranks only; A' = sum_i sqrt(w_i s_i) A_i, B' = sum_i sqrt(w_i s_i)
 *       B_i, s' = 1. This is <b>not</b> the weighted sum of the deltas: B'A' carries the cross
 *       terms B_i A_j (i != j); it is what PEFT's "linear" does.</li>
 * </ul>
 * Adapters must be LoRA-shaped ({@link LoraAdapter}); sites missing from an adapter count as zero.
 */
public final class Combination {
  private Combination() {}

  public enum Type { CAT, SVD, LINEAR }

  public static PeftModel.NamedAdapter combine(PeftModel model, String newName, List<String> names,
      List<Double> weights, Type type, int svdRank) {
    if (names.isEmpty() || names.size() != weights.size()) {
      throw new IllegalArgumentException(
          "combine needs one weight per adapter: " + names.size() + " adapters, " + weights.size() + " weights");
    }
    Set<String> sitePaths = new LinkedHashSet<>();
    for (String n : names) {
      for (Adapter a : model.adapter(n).sites().values()) {
        if (!(a instanceof LoraAdapter)) {
          throw new IllegalArgumentException("combine: adapter '" + n + "' at " + a.site().path()
              + " is " + a.getClass().getSimpleName() + ", not LoRA-shaped");
        }
      }
      sitePaths.addAll(model.adapter(n).sites().keySet());
    }
    if (type == Type.LINEAR) {
      Set<Integer> ranks = new LinkedHashSet<>();
      names.forEach(n -> model.adapter(n).sites().values().forEach(a -> ranks.add(((LoraAdapter) a).rank())));
      if (ranks.size() > 1) {
        throw new IllegalArgumentException("combination 'linear' needs equal ranks, got " + ranks
            + "; use 'cat' (exact weighted sum) or 'svd'");
      }
    }
    Map<String, Adapter> sites = new LinkedHashMap<>();
    int maxRank = 0;
    for (String path : sitePaths) {
      List<LoraAdapter> parts = new ArrayList<>();
      List<Double> w = new ArrayList<>();
      LinearSite site = null;
      for (int i = 0; i < names.size(); i++) {
        Adapter a = model.adapter(names.get(i)).sites().get(path);
        if (a != null) {
          parts.add((LoraAdapter) a);
          w.add(weights.get(i));
          site = a.site();
        }
      }
      LoraAdapter combined = switch (type) {
        case CAT -> cat(site, parts, w);
        case LINEAR -> linear(site, parts, w);
        case SVD -> svd(site, parts, w, svdRank);
      };
      maxRank = Math.max(maxRank, combined.rank());
      sites.put(path, combined);
    }
    Map<String, Integer> rankPattern = new LinkedHashMap<>();
    Map<String, Double> alphaPattern = new LinkedHashMap<>();
    for (Adapter a : sites.values()) {
      LoraAdapter l = (LoraAdapter) a;
      if (l.rank() != maxRank) {
        rankPattern.put(java.util.regex.Pattern.quote(a.site().path()), l.rank());
        alphaPattern.put(java.util.regex.Pattern.quote(a.site().path()), (double) l.rank());
      }
    }
    Targets targets = Targets.of(sitePaths.toArray(String[]::new)).withRankPattern(rankPattern).withAlphaPattern(alphaPattern);
    return model.putAdapter(newName, new AdapterSpec(LoraConfig.of(maxRank, maxRank), targets), sites);
  }

  private static LoraAdapter cat(LinearSite site, List<LoraAdapter> parts, List<Double> w) {
    List<INDArray> as = new ArrayList<>();
    List<INDArray> bs = new ArrayList<>();
    for (int i = 0; i < parts.size(); i++) {
      as.add(parts.get(i).a().mul(w.get(i) * parts.get(i).scaling()));
      bs.add(parts.get(i).b());
    }
    INDArray a = Nd4j.concat(0, as.toArray(INDArray[]::new)); // [sum r, in]
    INDArray b = Nd4j.concat(1, bs.toArray(INDArray[]::new)); // [out, sum r]
    return of(site, a, b);
  }

  private static LoraAdapter linear(LinearSite site, List<LoraAdapter> parts, List<Double> w) {
    INDArray a = null;
    INDArray b = null;
    for (int i = 0; i < parts.size(); i++) {
      double f = Math.sqrt(w.get(i) * parts.get(i).scaling());
      INDArray ai = parts.get(i).a().mul(f);
      INDArray bi = parts.get(i).b().mul(f);
      a = a == null ? ai : a.addi(ai);
      b = b == null ? bi : b.addi(bi);
    }
    return of(site, a, b);
  }

  private static LoraAdapter svd(LinearSite site, List<LoraAdapter> parts, List<Double> w, int k) {
    INDArray delta = null;
    for (int i = 0; i < parts.size(); i++) {
      INDArray d = parts.get(i).deltaWeight().muli(w.get(i)); // [out, in]
      delta = delta == null ? d : delta.addi(d);
    }
    int max = Math.min(site.in(), site.out());
    if (k <= 0 || k > max) {
      throw new IllegalArgumentException("combination 'svd' rank = " + k + ": must be in [1, " + max + "] for " + site.path());
    }
    SvdResult r = Svd.exact(delta).top(k);
    INDArray b = r.u().mulRowVector(r.s()); // [out, k] * diag(S_k)
    return of(site, r.vt().dup(), b.dup());   // A' = V_k^T [k, in]
  }

  private static LoraAdapter of(LinearSite site, INDArray a, INDArray b) {
    int r = (int) a.size(0);
    return new LoraAdapter(site, LoraConfig.of(r, r), 1.0, 0.0, a.dup('c'), b.dup('c'));
  }
}
