package dev.loraj.core.lora;

import dev.loraj.core.adapter.Adapter;
import dev.loraj.core.adapter.AdapterSpec;
import dev.loraj.core.linalg.Svd;
import dev.loraj.core.linalg.SvdResult;
import dev.loraj.core.lora.TaskArithmetic.MajoritySign;
import dev.loraj.core.model.LinearSite;
import dev.loraj.core.model.PeftModel;
import dev.loraj.core.model.Targets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.stream.Collectors;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Combines named LoRA adapters into a new one with weights w_i, as PEFT 0.21's
 * {@code add_weighted_adapter} computes it. The result is a plain LoRA adapter with scale 1
 * (PEFT sets {@code lora_alpha = r}). With s_i the scale of adapter i and dW_i = s_i B_i A_i:
 * <ul>
 *   <li>{@link Type#CAT}: A' = [w_1 s_1 A_1; ...; w_n s_n A_n] (rows), B' = [B_1, ..., B_n]
 *       (columns): exactly {@code sum_i w_i dW_i}, rank = sum of ranks;</li>
 *   <li>the {@code _SVD} forms and {@link Type#SVD}: a dense merge of the deltas dW_i with
 *       weights w_i (task arithmetic for SVD, else TIES, DARE or magnitude pruning, see
 *       {@link TaskArithmetic}), then its rank-k truncated SVD: B' = U_k S_k, A' = V_k^T (k =
 *       {@code svdRank}, or the largest rank of the inputs when 0);</li>
 *   <li>{@link Type#LINEAR}, {@link Type#TIES}, {@link Type#DARE_LINEAR}, {@link Type#DARE_TIES},
 *       {@link Type#MAGNITUDE_PRUNE}: the same merge applied to the A matrices and, separately,
 *       to the B matrices (not to B A), equal ranks only, with weights
 *       {@code sign(w_i s_i) sqrt(|w_i s_i|)} for A and {@code sqrt(|w_i s_i|)} for B. B'A' is
 *       therefore <b>not</b> the merge of the deltas: it carries cross terms B_i A_j (i != j).
 *       This is what PEFT does, reproduced here so that both give the same adapter.</li>
 * </ul>
 * A single adapter is always combined {@code linear}, as in PEFT. Sites missing from an adapter
 * count as absent (the merge runs over the adapters present there).
 *
 * <p>Only adapters whose whole state is A, B and the scale can be combined this way. Others are
 * refused with the variant's name and what would be lost: DoRA's magnitude vector, the dense
 * updates of Delta-LoRA and ReLoRA, AM-LoRA's gates ({@link LoraAdapter#stateBeyondLowRank()}),
 * and adapters that are not LoRA-shaped at all (AdaLoRA, VeRA, intrinsic). For an adapter whose
 * initialisation rewrote the base (PiSSA, MiLoRA, OLoRA, CorDA, LoftQ), the combination, as in
 * PEFT, is relative to the rewritten base this model holds.
 */
public final class Combination {
  private Combination() {}

  /** PEFT's {@code combination_type}s. */
  public enum Type {
    CAT, LINEAR, SVD, TIES, TIES_SVD, DARE_LINEAR, DARE_TIES, DARE_LINEAR_SVD, DARE_TIES_SVD,
    MAGNITUDE_PRUNE, MAGNITUDE_PRUNE_SVD;

    /** PEFT's spelling ({@code ties_svd}, ...). */
    public String peftName() {
      return name().toLowerCase(Locale.ROOT);
    }

    /** Merges the deltas B A and factors the result by SVD. */
    public boolean svd() {
      return this == SVD || name().endsWith("_SVD");
    }

    /** Needs {@code density}. */
    public boolean prunes() {
      return this != CAT && this != LINEAR && this != SVD;
    }

    /** Needs {@code majority_sign_method}. */
    public boolean electsSign() {
      return name().contains("TIES");
    }

    public static Type parse(String s) {
      for (Type t : values()) {
        if (t.peftName().equals(s)) {
          return t;
        }
      }
      throw new IllegalArgumentException("combination type '" + s + "' is unknown; accepted: "
          + Arrays.stream(values()).map(Type::peftName).collect(Collectors.joining(", ")));
    }
  }

  /**
   * How to combine.
   *
   * @param svdRank rank of the {@code _svd} results; 0 for the largest rank of the inputs
   * @param density fraction of values kept by the pruning types (>= 0, >= 1 keeps all); NaN when
   *     the type does not prune
   * @param majoritySign sign election of the TIES types
   * @param seed the random masks of the DARE types
   */
  public record Method(Type type, int svdRank, double density, MajoritySign majoritySign, long seed) {
    public Method {
      if (type == null) {
        throw new IllegalArgumentException("combination type is missing; accepted: "
            + Arrays.stream(Type.values()).map(Type::peftName).collect(Collectors.joining(", ")));
      }
      if (svdRank < 0) {
        throw new IllegalArgumentException("svd_rank = " + svdRank + ": must be >= 1, or 0 for the largest input rank");
      }
      if (type.prunes()) {
        if (Double.isNaN(density)) {
          throw new IllegalArgumentException("combination '" + type.peftName() + "' needs density (the fraction"
              + " of values kept, in [0, 1])");
        }
        TaskArithmetic.checkDensity(density);
      }
      if (majoritySign == null) {
        throw new IllegalArgumentException("majority_sign_method is missing; accepted: total, frequency");
      }
    }

    /** A type without pruning ({@code cat}, {@code linear}, {@code svd}). */
    public static Method of(Type type, int svdRank) {
      return new Method(type, svdRank, Double.NaN, MajoritySign.TOTAL, 0L);
    }
  }

  public static PeftModel.NamedAdapter combine(PeftModel model, String newName, List<String> names,
      List<Double> weights, Type type, int svdRank) {
    return combine(model, newName, names, weights, Method.of(type, svdRank));
  }

  public static PeftModel.NamedAdapter combine(PeftModel model, String newName, List<String> names,
      List<Double> weights, Method method) {
    if (names.isEmpty() || names.size() != weights.size()) {
      throw new IllegalArgumentException(
          "combine needs one weight per adapter: " + names.size() + " adapters, " + weights.size() + " weights");
    }
    Set<String> sitePaths = new LinkedHashSet<>();
    int maxInputRank = 0;
    for (String n : names) {
      PeftModel.NamedAdapter named = model.adapter(n);
      for (Adapter a : named.sites().values()) {
        refuseUnlessLowRank(named, a);
        maxInputRank = Math.max(maxInputRank, ((LoraAdapter) a).rank());
      }
      sitePaths.addAll(named.sites().keySet());
    }
    Type type = names.size() == 1 ? Type.LINEAR : method.type();
    int svdRank = method.svdRank() > 0 ? method.svdRank() : maxInputRank;
    SplittableRandom random = new SplittableRandom(method.seed());
    Map<String, Adapter> sites = new LinkedHashMap<>();
    int maxRank = 0;
    for (String path : sitePaths) {
      List<LoraAdapter> parts = new ArrayList<>();
      List<Double> w = new ArrayList<>();
      for (int i = 0; i < names.size(); i++) {
        Adapter a = model.adapter(names.get(i)).sites().get(path);
        if (a != null) {
          parts.add((LoraAdapter) a);
          w.add(weights.get(i));
        }
      }
      LinearSite site = parts.get(0).site();
      LoraAdapter combined;
      if (type == Type.CAT) {
        combined = cat(site, parts, w);
      } else if (type.svd()) {
        combined = svd(site, merge(type, deltas(parts), toArray(w), method, random), svdRank, type);
      } else {
        combined = factorwise(site, parts, w, type, method, random);
      }
      maxRank = Math.max(maxRank, combined.rank());
      sites.put(path, combined);
    }
    Map<String, Integer> rankPattern = new LinkedHashMap<>();
    Map<String, Double> alphaPattern = new LinkedHashMap<>();
    for (Adapter a : sites.values()) {
      LoraAdapter l = (LoraAdapter) a;
      if (l.rank() != maxRank) {
        // the path with its dots escaped: a regex that Java and PEFT's Python read alike
        String key = a.site().path().replace(".", "\\.");
        rankPattern.put(key, l.rank());
        alphaPattern.put(key, (double) l.rank());
      }
    }
    Targets targets = Targets.of(sitePaths.toArray(String[]::new)).withRankPattern(rankPattern).withAlphaPattern(alphaPattern);
    return model.putAdapter(newName, new AdapterSpec(LoraConfig.of(maxRank, maxRank), targets), sites);
  }

  private static void refuseUnlessLowRank(PeftModel.NamedAdapter named, Adapter a) {
    String variant = named.factory().name();
    String reason = a instanceof LoraAdapter l
        ? l.stateBeyondLowRank().orElse(null)
        : "its state is not a pair of LoRA matrices A and B (" + a.getClass().getSimpleName() + ")";
    if (reason != null) {
      throw new IllegalArgumentException("combine: adapter '" + named.name() + "' (variant '" + variant + "') at '"
          + a.site().path() + "' cannot be combined: " + reason + "; a combination keeps only A, B and the"
          + " scale. Merge it into the base instead, or combine LoRA-shaped adapters (lora, rslora,"
          + " loraplus, lora-fa, qlora, o-lora, the SVD initialisations)");
    }
  }

  /** The merge of {@code tensors} by the dense rule of {@code type} (its {@code _svd} suffix ignored). */
  private static INDArray merge(Type type, List<INDArray> tensors, double[] w, Method m, SplittableRandom random) {
    return switch (type) {
      case LINEAR, SVD -> TaskArithmetic.weightedSum(tensors, w);
      case TIES, TIES_SVD -> TaskArithmetic.ties(tensors, w, m.density(), m.majoritySign());
      case DARE_LINEAR, DARE_LINEAR_SVD -> TaskArithmetic.dareLinear(tensors, w, m.density(), random);
      case DARE_TIES, DARE_TIES_SVD -> TaskArithmetic.dareTies(tensors, w, m.density(), m.majoritySign(), random);
      case MAGNITUDE_PRUNE, MAGNITUDE_PRUNE_SVD -> TaskArithmetic.magnitudePruned(tensors, w, m.density());
      case CAT -> throw new IllegalArgumentException("cat is not a dense merge");
    };
  }

  private static List<INDArray> deltas(List<LoraAdapter> parts) {
    return parts.stream().map(LoraAdapter::deltaWeight).toList();
  }

  private static double[] toArray(List<Double> w) {
    return w.stream().mapToDouble(Double::doubleValue).toArray();
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

  /** The merge applied to the A's and to the B's separately (PEFT's non-SVD types). */
  private static LoraAdapter factorwise(LinearSite site, List<LoraAdapter> parts, List<Double> w, Type type,
      Method m, SplittableRandom random) {
    Set<Integer> ranks = parts.stream().map(LoraAdapter::rank).collect(Collectors.toCollection(LinkedHashSet::new));
    if (ranks.size() > 1) {
      throw new IllegalArgumentException("combination '" + type.peftName() + "' needs equal ranks, got " + ranks
          + " at '" + site.path() + "'; use 'cat' (exact weighted sum) or an '_svd' type");
    }
    double[] wa = new double[parts.size()];
    double[] wb = new double[parts.size()];
    for (int i = 0; i < parts.size(); i++) {
      double ws = w.get(i) * parts.get(i).scaling();
      // the sign on A only: on both it would cancel in B A
      wb[i] = Math.sqrt(Math.abs(ws));
      wa[i] = ws >= 0 ? wb[i] : -wb[i];
    }
    INDArray a = merge(type, parts.stream().map(LoraAdapter::a).toList(), wa, m, random);
    INDArray b = merge(type, parts.stream().map(LoraAdapter::b).toList(), wb, m, random);
    return of(site, a, b);
  }

  private static LoraAdapter svd(LinearSite site, INDArray delta, int k, Type type) {
    int max = Math.min(site.in(), site.out());
    if (k > max) {
      throw new IllegalArgumentException("combination '" + type.peftName() + "' svd_rank = " + k + ": must be in [1, "
          + max + "] for '" + site.path() + "'");
    }
    SvdResult r = Svd.exact(delta).top(k);
    INDArray b = r.u().mulRowVector(r.s()); // [out, k] * diag(S_k)
    return of(site, r.vt().dup(), b.dup());   // A' = V_k^T [k, in]
  }

  private static LoraAdapter of(LinearSite site, INDArray a, INDArray b) {
    int r = (int) a.size(0);
    if (site.embedding()) { // PEFT combines lora_embedding_A/B as it combines lora_A/B
      return new EmbeddingLoraAdapter(site, LoraConfig.of(r, r), 1.0, a.dup('c'), b.dup('c'));
    }
    return new LoraAdapter(site, LoraConfig.of(r, r), 1.0, 0.0, a.dup('c'), b.dup('c'));
  }
}
