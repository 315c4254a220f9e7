package dev.loraj.variants.vera;

import com.fasterxml.jackson.databind.JsonNode;
import dev.loraj.core.adapter.Adapter;
import dev.loraj.core.adapter.AdapterConfig;
import dev.loraj.core.adapter.AdapterFactory;
import dev.loraj.core.adapter.AdapterGraph;
import dev.loraj.core.adapter.BiasMode;
import dev.loraj.core.adapter.ConfigCodec;
import dev.loraj.core.adapter.SiteInit;
import dev.loraj.core.checkpoint.PeftCodec;
import dev.loraj.core.graph.Graphs;
import dev.loraj.core.lora.Fill;
import dev.loraj.core.lora.LoraConfig;
import dev.loraj.core.model.LinearSite;
import dev.loraj.core.model.PeftModel;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * VeRA, vector-based random matrix adaptation (Kopiczko, Blankevoort and Asano 2024,
 * arXiv 2310.11454, section 3, eq. 2):
 *
 * <pre>
 *   h = W x + Lambda_b B Lambda_d A x        A [r, in], B [out, r] frozen random,
 *                                            d [r], b [out] trained (Lambda = diag)
 * </pre>
 *
 * A and B are never trained and never stored as learned state: they are regenerated from the
 * seed {@code projection_prng_key} with Kaiming-uniform init (section 3, "initialization
 * strategies"; torch's {@code kaiming_uniform_(a = sqrt 5)}, i.e. U(-1/sqrt(fan_in),
 * 1/sqrt(fan_in))), so every layer shares the same pair. {@code b = 0} makes the model unchanged
 * at init; {@code d = d_initial} (0.1, PEFT's default; the paper tunes it per task).
 *
 * <p>Sharing. PEFT draws one A [r, max_in] and one B [max_out, r] for the whole model and slices
 * them per layer ({@code A[:, :in]}, {@code B[:out, :]}). Here each site draws its own from one
 * stream per matrix keyed by (seed, r): B's rows in order (so a narrower B is the first rows of a
 * wider one), A's columns in order, scaled by {@code 1/sqrt(in)} (so a narrower A is a multiple of
 * the first columns of a wider one). Every site with the same input width gets the identical A,
 * every site with the same output width the identical B (values shared, storage per site), and
 * the adapter has PEFT's form: {@link VeraPeft} writes the widest projections as PEFT's shared
 * ones and folds the scale of A into {@code lambda_d}. Numbers differ from PEFT's (another
 * generator), the method does not.
 *
 * <p>Rank. VeRA's r is the width of the random projections, not a bound on what is learned (the
 * trainable count is r + out), and the paper uses r larger than the layer (r = 1024 on
 * RoBERTa-base's 768-wide layers in its GLUE runs). So r > min(in, out) is accepted; the update's rank is
 * still at most min(in, out). PEFT's default r is 256.
 *
 * <p>{@code alpha} is not used by VeRA (there is no scaling: the vectors carry the scale); the
 * field exists because every config has one ({@code alpha_pattern} is then a no-op).
 * PEFT keys: {@code vera_lambda_b}, {@code vera_lambda_d}; buffers {@code vera_A},
 * {@code vera_B}.
 */
public final class Vera implements AdapterFactory<Vera.Config>, PeftCodec {

  public static final String LAMBDA_B = "vera_lambda_b";
  public static final String LAMBDA_D = "vera_lambda_d";
  public static final String PROJ_A = "vera_A";
  public static final String PROJ_B = "vera_B";

  /**
   * VeRA's config.
   *
   * @param rank r, width of the shared random projections; PEFT's default 256
   * @param alpha unused by VeRA (kept for the common config interface); default 1
   * @param dropout on the adapter input; PEFT's default 0
   * @param projectionPrngKey seed of the frozen A and B; PEFT's default 0. Independent of the
   *     model seed, so two adapters with the same key share their projections
   * @param dInitial initial value of every entry of d; PEFT's default 0.1
   * @param bias which base biases train with the adapter
   */
  public record Config(int rank, double alpha, double dropout, long projectionPrngKey,
      double dInitial, BiasMode bias) implements AdapterConfig {

    public Config {
      LoraConfig.checkRankAlpha(rank, alpha);
      if (!(dropout >= 0 && dropout < 1)) {
        throw new IllegalArgumentException("dropout = " + dropout + ": must be in [0, 1)");
      }
      if (!Double.isFinite(dInitial)) {
        throw new IllegalArgumentException("d_initial = " + dInitial + ": must be a finite number");
      }
      bias = bias == null ? BiasMode.NONE : bias;
    }

    public static Config defaults() {
      return new Config(256, 1.0, 0.0, 0L, 0.1, BiasMode.NONE);
    }

    @Override
    public Config withRankAndAlpha(int rank, double alpha) {
      return new Config(rank, alpha, dropout, projectionPrngKey, dInitial, bias);
    }

    public Config withProjectionPrngKey(long key) {
      return new Config(rank, alpha, dropout, key, dInitial, bias);
    }
  }

  @Override
  public String name() {
    return "vera";
  }

  @Override
  public String description() {
    return "VeRA: shared frozen random A, B; trained scaling vectors d, b (arXiv 2310.11454)";
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
    LinearSite site = init.site();
    int r = config.rank();
    long key = config.projectionPrngKey();
    // A drawn column by column as [in, r], transposed: column j is the same for every width
    INDArray a = kaimingUniform(site.in(), r, site.in(), projectionStream(key, 'A', r))
        .transpose().dup('c'); // [r, in]
    INDArray b = kaimingUniform(site.out(), r, r, projectionStream(key, 'B', r)); // [out, r]
    INDArray lambdaD = Nd4j.valueArrayOf(new long[] {r}, config.dInitial(), DataType.FLOAT);
    INDArray lambdaB = Nd4j.zeros(DataType.FLOAT, site.out());
    return new VeraAdapter(site, config, a, b, lambdaD, lambdaB);
  }

  /** PEFT's {@code VERA} format, see {@link VeraPeft}. */
  @Override
  public String peftType() {
    return VeraPeft.TYPE;
  }

  @Override
  public Map<String, Object> peftConfigFields(PeftModel.NamedAdapter adapter) {
    return VeraPeft.configFields(adapter);
  }

  @Override
  public Map<String, INDArray> peftTensors(PeftModel.NamedAdapter adapter) {
    return VeraPeft.tensors(adapter);
  }

  @Override
  public AdapterConfig configFromPeft(JsonNode root, ConfigCodec codec, String source) {
    return VeraPeft.config(root, source);
  }

  @Override
  public void readPeftTensors(Map<String, Adapter> sites, JsonNode root, TensorReader file) {
    VeraPeft.read(sites, root, file);
  }

  /** r + out: the two scaling vectors. */
  @Override
  public long trainableParameters(Config config, LinearSite site) {
    return (long) config.rank() + site.out();
  }

  /** A [r, in] and B [out, r] per site (values shared between equal widths, storage not). */
  @Override
  public long frozenParameters(Config config, java.util.List<LinearSite> sites) {
    return sites.stream().mapToLong(s -> (long) config.rank() * (s.in() + s.out())).sum();
  }

  /**
   * The stream of one projection: depends on the key, the matrix and the rank only, so that
   * projections of different widths are slices of each other.
   */
  static SplittableRandom projectionStream(long key, char which, int rank) {
    long seed = key;
    seed = seed * 0x9E3779B97F4A7C15L + which;
    seed = seed * 0x9E3779B97F4A7C15L + rank;
    return new SplittableRandom(seed);
  }

  /**
   * torch's {@code kaiming_uniform_(a = sqrt 5)}: U(-1/sqrt(fanIn), 1/sqrt(fanIn)) on
   * [rows, cols], filled row by row.
   */
  static INDArray kaimingUniform(int rows, int cols, int fanIn, SplittableRandom rnd) {
    INDArray m = Nd4j.create(DataType.FLOAT, rows, cols);
    double bound = 1.0 / Math.sqrt(fanIn);
    Fill.uniform(m, -bound, bound, rnd);
    return m;
  }

  /** The VeRA branch at one site. */
  public static final class VeraAdapter implements Adapter {
    private final LinearSite site;
    private final Config config;
    private final INDArray a; // [r, in], frozen
    private final INDArray b; // [out, r], frozen
    private final INDArray lambdaD; // [r]
    private final INDArray lambdaB; // [out]

    VeraAdapter(LinearSite site, Config config, INDArray a, INDArray b, INDArray lambdaD, INDArray lambdaB) {
      this.site = site;
      this.config = config;
      this.a = a;
      this.b = b;
      this.lambdaD = lambdaD;
      this.lambdaB = lambdaB;
    }

    @Override
    public LinearSite site() {
      return site;
    }

    @Override
    public Config config() {
      return config;
    }

    public INDArray a() {
      return a;
    }

    public INDArray b() {
      return b;
    }

    public INDArray lambdaD() {
      return lambdaD;
    }

    public INDArray lambdaB() {
      return lambdaB;
    }

    @Override
    public Map<String, INDArray> parameters() {
      Map<String, INDArray> p = new LinkedHashMap<>();
      p.put(LAMBDA_B, lambdaB);
      p.put(LAMBDA_D, lambdaD);
      return p;
    }

    @Override
    public Map<String, INDArray> buffers() {
      Map<String, INDArray> p = new LinkedHashMap<>();
      p.put(PROJ_A, a);
      p.put(PROJ_B, b);
      return p;
    }

    @Override
    public SDVariable forward(AdapterGraph g, SDVariable x, SDVariable baseOut) {
      SDVariable in = x;
      if (g.training() && config.dropout() > 0) {
        in = Graphs.dropout(g.sd(), x, config.dropout());
      }
      SDVariable d = g.param(LAMBDA_D).reshape(1, config.rank());
      SDVariable bv = g.param(LAMBDA_B).reshape(1, site.out());
      SDVariable h = g.sd().mmul(in, g.buffer(PROJ_A), false, true, false).mul(d); // [n, in] x [in, r]
      return g.sd().mmul(h, g.buffer(PROJ_B), false, true, false).mul(bv); // [n, r] x [r, out]
    }

    /** {@code diag(b) B diag(d) A}: [out, r] x [r, in]. */
    @Override
    public INDArray deltaWeight() {
      INDArray bd = b.mulRowVector(lambdaD); // [out, r]
      return bd.mmul(a).muliColumnVector(lambdaB.reshape(site.out(), 1));
    }
  }
}
