package dev.loraj.variants.continual;

import dev.loraj.core.adapter.Adapter;
import dev.loraj.core.adapter.AdapterConfig;
import dev.loraj.core.adapter.AdapterFactory;
import dev.loraj.core.adapter.AdapterGraph;
import dev.loraj.core.adapter.SiteInit;
import dev.loraj.core.checkpoint.NoPeftForm;
import dev.loraj.core.lora.LoraAdapter;
import dev.loraj.core.lora.LoraConfig;
import dev.loraj.core.lora.LoraInit;
import dev.loraj.core.model.LinearSite;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.ops.transforms.Transforms;

/**
 * O-LoRA, orthogonal subspace learning for continual learning (Wang et al. 2023,
 * arXiv 2310.14152, section 3.2-3.3): task t gets its own LoRA {@code s B_t A_t}; the LoRAs of
 * earlier tasks stay frozen and keep contributing (inference sums all task LoRAs, no task id).
 * Task t's loss adds
 * <pre>
 *   L_orth = lambda1 * sum_{i < t} sum_{j,k} ((A_i A_t^T)_{jk})^2      (paper, eq. 6: SQUARED)
 *          | lambda1 * sum_{i < t} sum_{j,k} |(A_i A_t^T)_{jk}|        (official code: ABSOLUTE)
 *   L_l2   = lambda2 * (||A_t||_F^2 + ||B_t||_F^2)
 * </pre>
 * per adapted site, summed over sites (the official code cmnfriend/O-LoRA sums over modules).
 *
 * <p>How the earlier A's arrive: the config names the earlier tasks' adapters
 * ({@code previous_adapters}); at creation the factory reads their A at the same site through
 * {@link SiteInit#otherAdapter} (any adapter with LoRA's A: {@link LoraAdapter} or a subclass)
 * and keeps a copy, stacked row-wise, as the frozen buffer {@code olora_previous_A}
 * [sum r_i, in]. Stacking is exact: {@code ||[A_1; ...; A_{t-1}] A_t^T||} summed entry-wise
 * equals the sum over i of the per-task terms. Freezing the earlier LoRAs is the caller's part
 * (merge them into the base, as {@code dev.loraj.eval.continual.ContinualRunner} does, or keep
 * them active but untrained).
 *
 * <p>Defaults: r = 8, alpha = 32, lambda1 = 0.5, lambda2 = 0 (the official scripts); the
 * penalty is the paper's squared form; dropout 0 here (official 0.1) so training is
 * deterministic unless asked.
 */
public final class OrthogonalLora implements AdapterFactory<OrthogonalLora.Config>, NoPeftForm {

  @Override
  public String noPeftFormReason() {
    return "O-LoRA is defined against the earlier tasks' adapters of the same model (its"
        + " orthogonality constraint on their subspaces), which PEFT has no type for";
  }

  /** Buffer key of the stacked earlier A's. */
  public static final String PREVIOUS_A = "olora_previous_A";

  /** Entry-wise form of the orthogonality penalty. */
  public enum Penalty {
    /** sum of squared entries (the paper's eq. 6). */
    SQUARED,
    /** sum of absolute entries (the official code's {@code torch.abs(...).sum()}). */
    ABSOLUTE;

    @com.fasterxml.jackson.annotation.JsonValue
    public String json() {
      return name().toLowerCase(java.util.Locale.ROOT);
    }

    @com.fasterxml.jackson.annotation.JsonCreator
    public static Penalty parse(String s) {
      for (Penalty p : values()) {
        if (p.json().equalsIgnoreCase(s)) {
          return p;
        }
      }
      throw new IllegalArgumentException("penalty = '" + s + "': accepted squared, absolute");
    }
  }

  /**
   * @param rank r; the official scripts use 8
   * @param alpha scaling numerator; official 32
   * @param dropout on the adapter input; official 0.1, 0 here for deterministic training
   * @param lambda1 weight of the orthogonality loss; official 0.5
   * @param lambda2 weight of the L2 term on the new LoRA; official 0
   * @param penalty squared (paper) or absolute (official code) entries
   * @param previousAdapters names of the earlier tasks' adapters in the same model, empty for
   *     the first task
   */
  public record Config(int rank, double alpha, double dropout, double lambda1, double lambda2,
      Penalty penalty, List<String> previousAdapters) implements AdapterConfig {

    public Config {
      LoraConfig.checkRankAlpha(rank, alpha);
      if (!(dropout >= 0 && dropout < 1)) {
        throw new IllegalArgumentException("dropout = " + dropout + ": must be in [0, 1)");
      }
      if (!(lambda1 >= 0) || Double.isInfinite(lambda1)) {
        throw new IllegalArgumentException("lambda1 = " + lambda1 + ": must be a finite number >= 0");
      }
      if (!(lambda2 >= 0) || Double.isInfinite(lambda2)) {
        throw new IllegalArgumentException("lambda2 = " + lambda2 + ": must be a finite number >= 0");
      }
      penalty = penalty == null ? Penalty.SQUARED : penalty;
      previousAdapters = previousAdapters == null ? List.of() : List.copyOf(previousAdapters);
    }

    public static Config defaults() {
      return new Config(8, 32, 0.0, 0.5, 0.0, Penalty.SQUARED, List.of());
    }

    @Override
    public Config withRankAndAlpha(int rank, double alpha) {
      return new Config(rank, alpha, dropout, lambda1, lambda2, penalty, previousAdapters);
    }

    public Config withPrevious(List<String> names) {
      return new Config(rank, alpha, dropout, lambda1, lambda2, penalty, names);
    }

    public Config withLambdas(double l1, double l2, Penalty p) {
      return new Config(rank, alpha, dropout, l1, l2, p, previousAdapters);
    }

    public double scaling() {
      return alpha / rank;
    }
  }

  @Override
  public String name() {
    return "o-lora";
  }

  @Override
  public String description() {
    return "O-LoRA: a LoRA per task, orthogonal to earlier tasks' frozen A (arXiv 2310.14152)";
  }

  @Override
  public Class<Config> configType() {
    return Config.class;
  }

  @Override
  public Config defaultConfig() {
    return Config.defaults();
  }

  @Override
  public Adapter create(Config config, SiteInit init) {
    INDArray previous = stackPrevious(config.previousAdapters(), init);
    OrthogonalLoraAdapter adapter = new OrthogonalLoraAdapter(init.site(), config, previous);
    LoraInit.KAIMING.initialize(adapter.a(), adapter.b(), adapter.scaling(), init);
    return adapter;
  }

  /** The earlier adapters' A at this site, copied and stacked [sum r_i, in]; null if none. */
  static INDArray stackPrevious(List<String> names, SiteInit init) {
    List<INDArray> as = new ArrayList<>();
    for (String n : names) {
      Adapter other = init.otherAdapter(n).orElse(null);
      if (other == null) {
        continue; // the earlier adapter does not adapt this site: nothing to be orthogonal to
      }
      if (!(other instanceof LoraAdapter la)) {
        throw new IllegalArgumentException("previous_adapters: adapter '" + n + "' at '"
            + init.site().path() + "' is a " + other.getClass().getSimpleName()
            + ", accepted adapters with LoRA's A (lora, o-lora, am-lora, ...)");
      }
      as.add(la.a().dup());
    }
    return as.isEmpty() ? null : Nd4j.vstack(as.toArray(INDArray[]::new)); // [sum r_i, in]
  }

  @Override
  public long trainableParameters(Config config, LinearSite site) {
    return (long) config.rank() * (site.in() + site.out());
  }

  /**
   * The orthogonality term in plain Java, for tests and reports: {@code sum_{j,k} f((P A^T)_jk)}
   * with f = square or abs; {@code previous} [R, in], {@code a} [r, in].
   */
  public static double orthogonality(INDArray previous, INDArray a, Penalty penalty) {
    INDArray p = previous.mmul(a.transpose()); // [R, in] x [in, r]
    return penalty == Penalty.SQUARED ? p.mul(p).sumNumber().doubleValue() : Transforms.abs(p, true).sumNumber().doubleValue();
  }

  /** LoRA plus the frozen earlier A's and the O-LoRA loss terms. */
  public static final class OrthogonalLoraAdapter extends LoraAdapter {
    private final Config olora;
    private final INDArray previous; // [sum r_i, in] or null

    OrthogonalLoraAdapter(LinearSite site, Config config, INDArray previous) {
      super(site, config, config.scaling(), config.dropout());
      this.olora = config;
      this.previous = previous;
    }

    /** The stacked earlier A's [sum r_i, in], or null for the first task. */
    public INDArray previousA() {
      return previous;
    }

    @Override
    public Map<String, INDArray> buffers() {
      Map<String, INDArray> m = new LinkedHashMap<>();
      if (previous != null) {
        m.put(PREVIOUS_A, previous);
      }
      return m;
    }

    @Override
    public SDVariable regularization(AdapterGraph g) {
      SDVariable total = null;
      SDVariable av = g.param(A);
      if (previous != null && olora.lambda1() > 0) {
        SDVariable p = g.sd().mmul(g.buffer(PREVIOUS_A), av, false, true, false); // [R, in] x [in, r]
        SDVariable term = olora.penalty() == Penalty.SQUARED ? p.mul(p).sum() : g.sd().math().abs(p).sum();
        total = term.mul(olora.lambda1());
      }
      if (olora.lambda2() > 0) {
        SDVariable bv = g.param(B);
        SDVariable l2 = av.mul(av).sum().add(bv.mul(bv).sum()).mul(olora.lambda2());
        total = total == null ? l2 : total.add(l2);
      }
      return total;
    }
  }
}
