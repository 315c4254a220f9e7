package dev.loraj.variants.intrinsic;

import dev.loraj.core.lora.Fill;
import dev.loraj.core.model.LinearSite;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * The random subspace of one intrinsic-dimension adapter (Li, Farkhoor, Liu and Yosinski 2018,
 * arXiv 1804.08838, section 2): the trained vector {@code theta_d} [d] and the fixed projection
 * {@code P} [D, d], D = the number of adapted weights summed over all sites. Site s owns the
 * block of rows {@code P_s} [out_s * in_s, d] and adds {@code reshape(P_s theta_d)} [out, in] to
 * its frozen weight. One instance per adapter (created through {@code SiteInit.shared}), so every
 * site reads the same {@code theta_d}.
 *
 * <p>Projections (section 2 and the appendix's "Fastfood" paragraph name dense and sparse):
 * <ul>
 *   <li>{@code dense}: entries N(0, 1), D x d floats;</li>
 *   <li>{@code sparse}: "very sparse random projections" (Li, Hastie and Church 2006): each entry
 *       is +1 or -1 with probability 1/(2s) each and 0 otherwise, s = sqrt(D), so about
 *       {@code d sqrt(D)} non-zeros instead of {@code d D} (D = 198,800, d = 1,000: 446,000 instead
 *       of 199 million). Stored row by row (CSR) with one sign bit per non-zero.</li>
 * </ul>
 * Both then get unit-length columns of the whole P (the paper's normalisation), so a unit step
 * of one coordinate of {@code theta_d} moves the D weights by a vector of length 1. A sparse
 * column without non-zeros (probability about exp(-sqrt(D)), negligible) stays zero.
 *
 * <p>Lazy construction: P depends on D (the normalisation, and s for sparse), which is known only
 * once every site has been created, so it is drawn at the first use ({@link #block}). Each
 * site's draws come from a stream keyed by the config's {@code seed} and the site path alone:
 * the same seed gives the same P in any model with the same sites.
 */
final class Subspace {

  /** Largest dense P accepted: 2^28 floats (1 GiB). Beyond that, use the sparse projection. */
  static final long MAX_DENSE_ENTRIES = 1L << 28;

  private final IntrinsicDimension.Config config;
  private final INDArray theta; // [d], trained; zero at init so the model starts at theta0
  private final List<LinearSite> sites = new ArrayList<>();
  private Map<String, Block> blocks; // by site path, once built

  Subspace(IntrinsicDimension.Config config) {
    this.config = config;
    this.theta = Nd4j.zeros(DataType.FLOAT, config.dim());
  }

  INDArray theta() {
    return theta;
  }

  int dim() {
    return config.dim();
  }

  IntrinsicDimension.Config config() {
    return config;
  }

  /** Adds a site; all sites come before the first use of P. */
  synchronized void register(LinearSite site, IntrinsicDimension.Config siteConfig) {
    if (blocks != null) {
      throw new IllegalStateException("intrinsic: site " + site.path() + " added after the"
          + " projection was drawn; P spans the sites present at the first forward pass");
    }
    if (!siteConfig.equals(config)) {
      throw new IllegalArgumentException("intrinsic: site " + site.path() + " has config "
          + siteConfig + " but the adapter's other sites have " + config + "; theta_d is one"
          + " vector shared by all sites, so rank_pattern (dim per site) is not accepted");
    }
    sites.add(site);
  }

  /** D: the number of weights P spans. */
  synchronized long totalRows() {
    return sites.stream().mapToLong(s -> s.out() * s.in()).sum();
  }

  /** The block of P for one site, drawing P on first use. */
  synchronized Block block(String path) {
    if (blocks == null) {
      blocks = build();
    }
    Block b = blocks.get(path);
    if (b == null) {
      throw new IllegalArgumentException("intrinsic: no site '" + path + "' in this subspace; sites: "
          + blocks.keySet());
    }
    return b;
  }

  /** {@code reshape(P_s theta_d)} for the current theta_d: [out, in]. */
  INDArray delta(LinearSite site) {
    Block b = block(site.path());
    float[] out = new float[b.rows()];
    b.apply(theta.toFloatVector(), out);
    return Nd4j.create(out, new long[] {site.out(), site.in()}, 'c');
  }

  /**
   * The whole P as a dense [D, d] matrix (rows in site order, each block row-major over [out,
   * in]): for tests and small models only.
   */
  INDArray matrix() {
    block(sites.get(0).path());
    long rows = totalRows();
    if (rows * dim() > MAX_DENSE_ENTRIES) {
      throw new IllegalStateException("P is " + rows + " x " + dim() + ": too large to densify");
    }
    INDArray p = Nd4j.create(DataType.FLOAT, rows, dim());
    long at = 0;
    float[] unit = new float[dim()];
    for (LinearSite s : sites) {
      Block b = blocks.get(s.path());
      float[] col = new float[b.rows()];
      for (int j = 0; j < dim(); j++) {
        Arrays.fill(unit, 0);
        unit[j] = 1;
        b.apply(unit, col);
        for (int r = 0; r < col.length; r++) {
          p.putScalar(at + r, j, col[r]);
        }
      }
      at += b.rows();
    }
    return p;
  }

  /** Number of stored non-zeros of P (D x d for dense). */
  long nonZeros() {
    block(sites.get(0).path());
    return blocks.values().stream().mapToLong(Block::nonZeros).sum();
  }

  private Map<String, Block> build() {
    if (sites.isEmpty()) {
      throw new IllegalStateException("intrinsic: no sites registered");
    }
    int d = dim();
    long total = totalRows();
    double[] sumSq = new double[d]; // column norms of the whole P, before normalisation
    Map<String, Block> built = new LinkedHashMap<>();
    if (config.projection() == IntrinsicDimension.Projection.DENSE) {
      if (total * d > MAX_DENSE_ENTRIES) {
        throw new IllegalArgumentException(String.format(Locale.ROOT, "intrinsic: projection ="
            + " dense needs D x d = %d x %d floats (%.0f MB), above the limit of %d entries; use"
            + " projection = sparse", total, d, total * d * 4 / 1e6, MAX_DENSE_ENTRIES));
      }
      for (LinearSite s : sites) {
        Dense b = Dense.draw(Math.toIntExact(s.out() * s.in()), d, stream(s));
        b.addColumnSquares(sumSq);
        built.put(s.path(), b);
      }
      float[] scale = inverseNorms(sumSq);
      built.values().forEach(b -> ((Dense) b).scaleColumns(scale));
    } else {
      double s = Math.sqrt(total);
      float[] scale = new float[d];
      for (LinearSite site : sites) {
        Sparse b = Sparse.draw(Math.toIntExact(site.out() * site.in()), d, 1.0 / s, stream(site), scale);
        b.addColumnSquares(sumSq);
        built.put(site.path(), b);
      }
      System.arraycopy(inverseNorms(sumSq), 0, scale, 0, d); // the blocks share this array
    }
    return built;
  }

  private static float[] inverseNorms(double[] sumSq) {
    float[] inv = new float[sumSq.length];
    for (int j = 0; j < sumSq.length; j++) {
      inv[j] = sumSq[j] > 0 ? (float) (1.0 / Math.sqrt(sumSq[j])) : 0f;
    }
    return inv;
  }

  /** The draws of one site's block: keyed by the seed and the site path only. */
  private SplittableRandom stream(LinearSite site) {
    long h = config.seed();
    for (int i = 0; i < site.path().length(); i++) {
      h = h * 0x9E3779B97F4A7C15L + site.path().charAt(i);
    }
    return new SplittableRandom(h ^ (h >>> 31));
  }

  /** One site's rows of P, as a linear map R^d -> R^rows and its transpose. */
  interface Block {
    int rows();

    /** {@code out = P_s theta}: theta [d], out [rows]. */
    void apply(float[] theta, float[] out);

    /** {@code out = P_s^T g}: g [rows], out [d]. */
    void applyTransposed(float[] g, float[] out);

    long nonZeros();
  }

  /** Dense block, row-major [rows, d]. */
  static final class Dense implements Block {
    private final int rows;
    private final int d;
    private final float[] p;

    private Dense(int rows, int d, float[] p) {
      this.rows = rows;
      this.d = d;
      this.p = p;
    }

    static Dense draw(int rows, int d, SplittableRandom rnd) {
      float[] p = new float[Math.multiplyExact(rows, d)];
      for (int i = 0; i < p.length; i++) {
        p[i] = (float) Fill.gaussian(rnd);
      }
      return new Dense(rows, d, p);
    }

    void addColumnSquares(double[] sumSq) {
      for (int r = 0; r < rows; r++) {
        for (int j = 0; j < d; j++) {
          double v = p[r * d + j];
          sumSq[j] += v * v;
        }
      }
    }

    void scaleColumns(float[] scale) {
      for (int r = 0; r < rows; r++) {
        for (int j = 0; j < d; j++) {
          p[r * d + j] *= scale[j];
        }
      }
    }

    @Override
    public int rows() {
      return rows;
    }

    @Override
    public void apply(float[] theta, float[] out) {
      for (int r = 0; r < rows; r++) {
        double acc = 0;
        int base = r * d;
        for (int j = 0; j < d; j++) {
          acc += p[base + j] * theta[j];
        }
        out[r] = (float) acc;
      }
    }

    @Override
    public void applyTransposed(float[] g, float[] out) {
      double[] acc = new double[d];
      for (int r = 0; r < rows; r++) {
        float gr = g[r];
        if (gr == 0) {
          continue;
        }
        int base = r * d;
        for (int j = 0; j < d; j++) {
          acc[j] += p[base + j] * gr;
        }
      }
      for (int j = 0; j < d; j++) {
        out[j] = (float) acc[j];
      }
    }

    @Override
    public long nonZeros() {
      return p.length;
    }
  }

  /**
   * Sparse block: row r holds the non-zeros {@code rowStart[r] .. rowStart[r+1]-1}, each a column
   * and a sign; its value is {@code sign * scale[column]} (the unit-norm factor of the column,
   * shared with the other blocks).
   */
  static final class Sparse implements Block {
    private final int rows;
    private final int d;
    private final int[] rowStart;
    private final int[] cols;
    private final boolean[] negative;
    private final float[] scale;

    private Sparse(int rows, int d, int[] rowStart, int[] cols, boolean[] negative, float[] scale) {
      this.rows = rows;
      this.d = d;
      this.rowStart = rowStart;
      this.cols = cols;
      this.negative = negative;
      this.scale = scale;
    }

    /**
     * Draws i.i.d. Bernoulli(density) non-zeros over the row-major [rows, d] entries by jumping
     * geometric gaps (exact, and linear in the number of non-zeros, not in rows x d).
     */
    static Sparse draw(int rows, int d, double density, SplittableRandom rnd, float[] scale) {
      long entries = (long) rows * d;
      int cap = (int) Math.min(Integer.MAX_VALUE - 8, Math.max(16, (long) (entries * density * 1.1) + 16));
      int[] cols = new int[cap];
      boolean[] neg = new boolean[cap];
      int[] rowStart = new int[rows + 1];
      int n = 0;
      double logKeep = density >= 1 ? Double.NEGATIVE_INFINITY : Math.log1p(-density);
      long k = -1;
      while (true) {
        long gap = density >= 1 ? 0 : (long) Math.floor(Math.log(1.0 - rnd.nextDouble()) / logKeep);
        k += 1 + gap;
        if (k >= entries || k < 0) {
          break;
        }
        if (n == cols.length) {
          cols = Arrays.copyOf(cols, Math.toIntExact(Math.min(Integer.MAX_VALUE - 8, 2L * n)));
          neg = Arrays.copyOf(neg, cols.length);
        }
        int r = (int) (k / d);
        cols[n] = (int) (k % d);
        neg[n] = rnd.nextBoolean();
        rowStart[r + 1]++;
        n++;
      }
      for (int r = 0; r < rows; r++) {
        rowStart[r + 1] += rowStart[r];
      }
      return new Sparse(rows, d, rowStart, Arrays.copyOf(cols, n), Arrays.copyOf(neg, n), scale);
    }

    void addColumnSquares(double[] sumSq) {
      for (int c : cols) {
        sumSq[c] += 1; // entries are +-1 before normalisation
      }
    }

    @Override
    public int rows() {
      return rows;
    }

    @Override
    public void apply(float[] theta, float[] out) {
      float[] t = new float[d];
      for (int j = 0; j < d; j++) {
        t[j] = theta[j] * scale[j];
      }
      for (int r = 0; r < rows; r++) {
        float acc = 0;
        for (int i = rowStart[r]; i < rowStart[r + 1]; i++) {
          acc += negative[i] ? -t[cols[i]] : t[cols[i]];
        }
        out[r] = acc;
      }
    }

    @Override
    public void applyTransposed(float[] g, float[] out) {
      double[] acc = new double[d];
      for (int r = 0; r < rows; r++) {
        float gr = g[r];
        for (int i = rowStart[r]; i < rowStart[r + 1]; i++) {
          acc[cols[i]] += negative[i] ? -gr : gr;
        }
      }
      for (int j = 0; j < d; j++) {
        out[j] = (float) (acc[j] * scale[j]);
      }
    }

    @Override
    public long nonZeros() {
      return cols.length;
    }
  }
}
