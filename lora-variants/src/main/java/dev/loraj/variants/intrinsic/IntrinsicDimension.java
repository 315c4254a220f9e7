package dev.loraj.variants.intrinsic;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonValue;
import dev.loraj.core.adapter.Adapter;
import dev.loraj.core.adapter.AdapterConfig;
import dev.loraj.core.adapter.AdapterFactory;
import dev.loraj.core.adapter.AdapterGraph;
import dev.loraj.core.adapter.SiteInit;
import dev.loraj.core.checkpoint.NoPeftForm;
import dev.loraj.core.model.LinearSite;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Training in a random subspace, the measure of "intrinsic dimension" (Li, Farkhoor, Liu and
 * Yosinski 2018, arXiv 1804.08838, section 2, eq. 2):
 *
 * <pre>
 *   theta_D = theta_0 + P theta_d        theta_0 [D] frozen, P [D, d] fixed random,
 *                                        theta_d [d] trained, zero at init
 * </pre>
 *
 * At each adapted site s, with {@code P_s} the site's rows of P:
 * {@code W_s = W_s0 + reshape(P_s theta_d)} ([out_s * in_s, d] x [d] -> [out, in]), and
 * {@code y = base(x) + x reshape(P_s theta_d)^T}. {@code theta_d} is <em>one</em> vector shared by
 * every adapted site of the adapter (the same array at each site, one graph variable: its gradient
 * is {@code P^T dL/dW_flat} summed over the sites), so the adapter trains d parameters however
 * many sites it covers. The paper's d90 is the smallest d whose accuracy reaches 90% of full
 * training's.
 *
 * <p>Choices: the columns of P have unit length over all of D (the paper's normalisation);
 * {@code projection = dense} (Gaussian) or {@code sparse} (Li, Hastie and Church 2006, "very
 * sparse random projections", density 1/sqrt(D)), see {@link Subspace}. The paper also uses the
 * Fastfood transform for its largest networks; it is not implemented here. <b>Biases stay
 * frozen</b> at theta_0: P spans the weight matrices of the adapted sites only, not their biases
 * (the paper projects every parameter; for the 784-200-200-10 MNIST network that is 410 of
 * 199,210). There is no scaling: {@code alpha} is fixed at 1 and {@code alpha_pattern} is a no-op;
 * {@code rank} is d and must be the same at every site.
 *
 * <p>P is never stored: it is redrawn from {@code seed} (and D) when the adapter is created.
 * PEFT-style key: {@code intrinsic_theta_d} (saved once per site, equal values).
 */
public final class IntrinsicDimension implements AdapterFactory<IntrinsicDimension.Config>, NoPeftForm {

  @Override
  public String noPeftFormReason() {
    return "the intrinsic-dimension method trains one d-dimensional vector mapped into every"
        + " weight by a random projection, which PEFT has no type for";
  }

  public static final String THETA = "intrinsic_theta_d";

  /** How P is drawn (see {@link Subspace}). */
  public enum Projection {
    /** Gaussian entries: D x d floats, for small models. */
    DENSE,
    /** Very sparse +-1 entries, density 1/sqrt(D): about d sqrt(D) non-zeros. */
    SPARSE;

    @JsonValue
    public String json() {
      return name().toLowerCase(Locale.ROOT);
    }

    @JsonCreator
    public static Projection parse(String s) {
      for (Projection p : values()) {
        if (p.json().equalsIgnoreCase(s)) {
          return p;
        }
      }
      String hint = "fastfood".equalsIgnoreCase(s) ? " (Fastfood is not implemented)" : "";
      throw new IllegalArgumentException("projection = '" + s + "'" + hint + ": accepted dense, sparse");
    }
  }

  /**
   * The random-subspace config.
   *
   * @param dim d, the subspace dimension (the number of trained parameters); default 1000, a
   *     little above the paper's d90 of about 750 for its MNIST fully connected network
   * @param projection dense or sparse; default sparse, the only one that scales (a dense P for
   *     D = 199,210 and d = 1000 is 800 MB)
   * @param seed seed of P; independent of the model seed, so two adapters with the same seed and
   *     sites share their P
   */
  public record Config(int dim, Projection projection, long seed) implements AdapterConfig {

    public Config {
      if (dim < 1) {
        throw new IllegalArgumentException("dim = " + dim + ": must be >= 1 (the subspace dimension d)");
      }
      projection = projection == null ? Projection.SPARSE : projection;
    }

    public static Config defaults() {
      return new Config(1000, Projection.SPARSE, 0L);
    }

    public static Config of(int dim, Projection projection, long seed) {
      return new Config(dim, projection, seed);
    }

    /** d: the subspace plays the part of the rank. */
    @Override
    public int rank() {
      return dim;
    }

    /** No scaling in theta_0 + P theta_d. */
    @Override
    public double alpha() {
      return 1.0;
    }

    /** Sets d; {@code alpha} is ignored (there is no scaling). */
    @Override
    public Config withRankAndAlpha(int rank, double alpha) {
      return new Config(rank, projection, seed);
    }
  }

  @Override
  public String name() {
    return "intrinsic";
  }

  @Override
  public String description() {
    return "Intrinsic dimension: train theta0 + P theta_d in a random d-dim subspace, one theta_d"
        + " for all sites (arXiv 1804.08838)";
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
    Subspace subspace;
    try {
      subspace = init.shared(Subspace.class, () -> new Subspace(config));
    } catch (UnsupportedOperationException e) {
      throw new IllegalStateException("intrinsic needs per-adapter shared state (SiteInit.shared):"
          + " theta_d is one vector for all of the adapter's sites", e);
    }
    subspace.register(init.site(), config);
    return new IntrinsicAdapter(init.site(), config, subspace);
  }

  /** d: what one site alone would train. Over several sites see {@link #trainableParameters(Config, List)}. */
  @Override
  public long trainableParameters(Config config, LinearSite site) {
    return config.dim();
  }

  /** d, once: theta_d is shared by all sites. */
  @Override
  public long trainableParameters(Config config, List<LinearSite> sites) {
    return sites.isEmpty() ? 0 : config.dim();
  }

  /** The subspace (theta_d and P) of a named intrinsic adapter. */
  public static IntrinsicAdapter of(dev.loraj.core.model.PeftModel.NamedAdapter adapter) {
    Adapter a = adapter.sites().values().stream().findFirst().orElse(null);
    if (a instanceof IntrinsicAdapter ia) {
      return ia;
    }
    throw new IllegalArgumentException("adapter '" + adapter.name() + "' is not an intrinsic adapter");
  }

  /** The random-subspace update at one site. */
  public static final class IntrinsicAdapter implements Adapter {
    private final LinearSite site;
    private final Config config;
    private final Subspace subspace;
    private String opKey;

    IntrinsicAdapter(LinearSite site, Config config, Subspace subspace) {
      this.site = site;
      this.config = config;
      this.subspace = subspace;
    }

    @Override
    public LinearSite site() {
      return site;
    }

    @Override
    public Config config() {
      return config;
    }

    Subspace subspace() {
      return subspace;
    }

    String opKey() {
      return opKey;
    }

    void opKey(String key) {
      opKey = key;
    }

    /** theta_d [d]: the same array at every site of the adapter. */
    public INDArray theta() {
      return subspace.theta();
    }

    /** D: the number of weights the subspace spans (all adapted sites). */
    public long totalDimension() {
      return subspace.totalRows();
    }

    /** P as a dense [D, d] matrix, site blocks in model order (small models only). */
    public INDArray projectionMatrix() {
      return subspace.matrix();
    }

    /** Stored non-zeros of P (D x d when dense). */
    public long projectionNonZeros() {
      return subspace.nonZeros();
    }

    @Override
    public Map<String, INDArray> parameters() {
      return Map.of(THETA, subspace.theta());
    }

    @Override
    public SDVariable forward(AdapterGraph g, SDVariable x, SDVariable baseOut) {
      SDVariable delta = SubspaceProjectOp.apply(g.sd(), g.param(THETA), this); // [out, in]
      return g.sd().mmul(x, delta, false, true, false); // [n, in] x [in, out]
    }

    /** {@code reshape(P_s theta_d)}: [out, in]. */
    @Override
    public INDArray deltaWeight() {
      return subspace.delta(site);
    }
  }
}
