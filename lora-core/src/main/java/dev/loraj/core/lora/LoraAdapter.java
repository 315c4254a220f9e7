package dev.loraj.core.lora;

import dev.loraj.core.adapter.Adapter;
import dev.loraj.core.adapter.AdapterConfig;
import dev.loraj.core.adapter.AdapterGraph;
import dev.loraj.core.graph.Graphs;
import dev.loraj.core.model.LinearSite;
import java.util.LinkedHashMap;
import java.util.Map;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * The LoRA branch at one site: {@code s * B (A dropout(x))}, A [r, in], B [out, r]
 * (arXiv 2106.09685, eq. 3). Variants that keep this shape (PiSSA, rsLoRA, LoRA-FA, DoRA, ...)
 * extend or compose it rather than copy it.
 */
public class LoraAdapter implements Adapter {

  public static final String A = "lora_A.weight";
  public static final String B = "lora_B.weight";

  protected final LinearSite site;
  protected final AdapterConfig config;
  protected final int rank;
  protected final double scaling;
  protected final double dropout;
  protected final INDArray a; // [r, in]
  protected final INDArray b; // [out, r]

  public LoraAdapter(LinearSite site, AdapterConfig config, double scaling, double dropout) {
    this.site = site;
    this.config = config;
    this.rank = config.rank();
    this.scaling = scaling;
    this.dropout = dropout;
    checkRankFits(site, rank);
    this.a = Nd4j.create(DataType.FLOAT, rank, site.in());
    this.b = Nd4j.create(DataType.FLOAT, site.out(), rank);
  }

  /**
   * An adapter over given arrays (a loaded checkpoint, an export to plain LoRA), used as they are
   * (not copied). Only shapes are checked: a rank above min(in, out) is allowed here because such
   * an adapter can arise exactly (PiSSA's export has rank 2r) and PEFT loads it.
   *
   * @param a [r, in], r = {@code config.rank()}
   * @param b [out, r]
   */
  public LoraAdapter(LinearSite site, AdapterConfig config, double scaling, double dropout,
      INDArray a, INDArray b) {
    this.site = site;
    this.config = config;
    this.rank = config.rank();
    this.scaling = scaling;
    this.dropout = dropout;
    if (!java.util.Arrays.equals(a.shape(), new long[] {rank, site.in()})
        || !java.util.Arrays.equals(b.shape(), new long[] {site.out(), rank})) {
      throw new IllegalArgumentException(
          "LoRA arrays for '" + site.path() + "' must be A [" + rank + ", " + site.in() + "] and B ["
              + site.out() + ", " + rank + "], got A " + java.util.Arrays.toString(a.shape())
              + " and B " + java.util.Arrays.toString(b.shape()));
    }
    this.a = a;
    this.b = b;
  }

  /** Rank larger than min(in, out) cannot be a low-rank update: one clear error. */
  public static void checkRankFits(LinearSite site, int rank) {
    int max = Math.min(site.in(), site.out());
    if (rank > max) {
      throw new IllegalArgumentException(
          "rank = " + rank + " is larger than min(in, out) = " + max + " of module '"
              + site.path() + "' [" + site.out() + " x " + site.in() + "]; use rank <= " + max
              + " or rank_pattern for this module");
    }
  }

  @Override
  public LinearSite site() {
    return site;
  }

  @Override
  public AdapterConfig config() {
    return config;
  }

  public INDArray a() {
    return a;
  }

  public INDArray b() {
    return b;
  }

  public double scaling() {
    return scaling;
  }

  public int rank() {
    return rank;
  }

  @Override
  public Map<String, INDArray> parameters() {
    Map<String, INDArray> p = new LinkedHashMap<>();
    p.put(A, a);
    p.put(B, b);
    return p;
  }

  @Override
  public SDVariable forward(AdapterGraph g, SDVariable x, SDVariable baseOut) {
    return branch(g, x, g.param(A), g.param(B));
  }

  /** {@code s * dropout(x) A^T B^T}: [n, in] x [in, r] -> [n, r] x [r, out]. */
  protected SDVariable branch(AdapterGraph g, SDVariable x, SDVariable av, SDVariable bv) {
    SDVariable in = x;
    if (g.training() && dropout > 0) {
      in = Graphs.dropout(g.sd(), x, dropout);
    }
    SDVariable h = g.sd().mmul(in, av, false, true, false); // [n, in] x [in, r]
    // s on the [n, r] intermediate, not the [n, out] result: the same product, out / r times
    // fewer multiplications forward and backward (PEFT scales the result; equal up to rounding)
    if (scaling != 1.0) {
      h = h.mul(scaling);
    }
    return g.sd().mmul(h, bv, false, true, false); // [n, r] x [r, out]
  }

  /**
   * What this adapter holds besides A, B and the scale that its effect depends on, as a phrase
   * ("its magnitude vector rescales ..."), or empty when {@code s B A} and the plain forward are
   * all of it. Operations that rebuild an adapter from A, B and the scale alone ({@link
   * Combination}) refuse an adapter with such state. A subclass that adds state which changes the
   * output must say so here.
   */
  public java.util.Optional<String> stateBeyondLowRank() {
    return java.util.Optional.empty();
  }

  /** {@code s * B A}: [out, r] x [r, in]. */
  @Override
  public INDArray deltaWeight() {
    return b.mmul(a).muli(scaling);
  }
}
