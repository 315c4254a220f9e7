package dev.loraj.variants.adalora;

import dev.loraj.core.adapter.Adapter;
import dev.loraj.core.adapter.AdapterGraph;
import dev.loraj.core.adapter.StepContext;
import dev.loraj.core.graph.Graphs;
import dev.loraj.core.lora.LoraAdapter;
import dev.loraj.core.model.LinearSite;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.stream.IntStream;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.nd4j.linalg.ops.transforms.Transforms;

/**
 * AdaLoRA at one site (arXiv 2303.10512, eq. 3): {@code dW = s * P diag(Lambda) Q} with
 * P = B [out, r], Lambda = E [r, 1], Q = A [r, in] and {@code s = alpha / init_r}. A row i of A,
 * entry E_i and column i of B form triplet i; pruning a triplet zeroes E_i only, so P and Q are
 * kept and the triplet can come back at a later allocation (section 3.2).
 *
 * <p>Per-entry importance (eq. 8-10): {@code I = |p * grad|}, {@code Ibar = b1 Ibar + (1-b1) I},
 * {@code Ubar = b2 Ubar + (1-b2) |I - Ibar|}, score {@code Ibar * Ubar}; the triplet score (eq. 11)
 * is {@code score(E_i) + mean_j score(A_ij) + mean_k score(B_ki)}. Which triplets survive is
 * decided globally by the {@link RankAllocator} this adapter shares with the other sites of the
 * same adapter.
 *
 * <p>Parameters use PEFT's keys {@code lora_A}, {@code lora_B}, {@code lora_E} (no
 * {@code .weight}).
 */
public final class AdaLoraAdapter implements Adapter {

  public static final String A = "lora_A";
  public static final String B = "lora_B";
  public static final String E = "lora_E";

  private final LinearSite site;
  private final AdaLoraConfig config;
  private final RankAllocator allocator;
  private final int rank;
  private final double scaling;
  private final INDArray a; // [r, in]
  private final INDArray b; // [out, r]
  private final INDArray e; // [r, 1]
  private final boolean[] keep; // current mask: triplet i survives
  private final Map<String, INDArray> sensitivity = new LinkedHashMap<>(); // Ibar per key
  private final Map<String, INDArray> uncertainty = new LinkedHashMap<>(); // Ubar per key

  AdaLoraAdapter(LinearSite site, AdaLoraConfig config, RankAllocator allocator) {
    LoraAdapter.checkRankFits(site, config.rank());
    this.site = site;
    this.config = config;
    this.allocator = allocator;
    this.rank = config.rank();
    this.scaling = config.scaling();
    this.a = Nd4j.create(DataType.FLOAT, rank, site.in());
    this.b = Nd4j.create(DataType.FLOAT, site.out(), rank);
    this.e = Nd4j.create(DataType.FLOAT, rank, 1);
    this.keep = new boolean[rank];
    Arrays.fill(keep, true);
    resetImportance();
  }

  @Override
  public LinearSite site() {
    return site;
  }

  @Override
  public AdaLoraConfig config() {
    return config;
  }

  /** The budget allocator shared by every site of this adapter. */
  public RankAllocator allocator() {
    return allocator;
  }

  public INDArray a() {
    return a;
  }

  public INDArray b() {
    return b;
  }

  public INDArray e() {
    return e;
  }

  public double scaling() {
    return scaling;
  }

  @Override
  public Map<String, INDArray> parameters() {
    Map<String, INDArray> p = new LinkedHashMap<>();
    p.put(A, a);
    p.put(B, b);
    p.put(E, e);
    return p;
  }

  /** {@code s * dropout(x) (A * E)^T B^T}, as PEFT: [n, in] x [in, r] -> [n, r] x [r, out]. */
  @Override
  public SDVariable forward(AdapterGraph g, SDVariable x, SDVariable baseOut) {
    SameDiff sd = g.sd();
    SDVariable in = x;
    if (g.training() && config.dropout() > 0) {
      in = Graphs.dropout(sd, x, config.dropout());
    }
    SDVariable ae = g.param(A).mul(g.param(E)); // [r, in] * [r, 1] (row i scaled by E_i)
    SDVariable h = sd.mmul(in, ae, false, true, false); // [n, in] x [in, r]
    SDVariable y = sd.mmul(h, g.param(B), false, true, false); // [n, r] x [r, out]
    return y.mul(scaling);
  }

  /**
   * The orthogonality regularizer on P = B and Q = A (paper eq. 4-5), in the form the config
   * chooses; {@code null} when its weight is 0. The per-site terms add up across sites.
   */
  @Override
  public SDVariable regularization(AdapterGraph g) {
    double w = config.orthRegWeight();
    if (w == 0) {
      return null;
    }
    SameDiff sd = g.sd();
    SDVariable eye = g.constant("orth_eye", Nd4j.eye(rank).castTo(DataType.FLOAT));
    SDVariable qq = sd.mmul(g.param(A), g.param(A), false, true, false).sub(eye); // [r, in] x [in, r]
    SDVariable pp = sd.mmul(g.param(B), g.param(B), true, false, false).sub(eye); // [r, out] x [out, r]
    return switch (config.orthReg()) {
      case PAPER -> qq.mul(qq).sum().add(pp.mul(pp).sum()).mul(w);
      // mean over the 2 * #sites matrices of the adapter, so each site adds its share
      case REFERENCE -> qq.norm2().add(pp.norm2()).mul(w / (2.0 * allocator.siteCount()));
    };
  }

  /** Reports the step to the shared allocator, which acts once every site has reported. */
  @Override
  public void afterStep(StepContext context) {
    allocator.report(this, context);
  }

  /**
   * Not captured: the importance averages, the rank mask and the budget schedule live in the
   * allocator shared by all sites, outside any one adapter's arrays.
   */
  @Override
  public Optional<Map<String, INDArray>> trainingState() {
    return Optional.empty();
  }

  /** {@code s * B (A * E)}: [out, r] x [r, in]. */
  @Override
  public INDArray deltaWeight() {
    return b.mmul(a.mulColumnVector(e)).muli(scaling);
  }

  /** Triplets kept by the current mask (init_r before the first allocation). */
  public int currentRank() {
    int n = 0;
    for (boolean k : keep) {
      n += k ? 1 : 0;
    }
    return n;
  }

  /** The current mask, one flag per triplet (a copy). */
  public boolean[] mask() {
    return keep.clone();
  }

  /**
   * This site as a plain LoRA adapter on the same base: rows of A with a nonzero E, E folded
   * into A, the matching columns of B, and {@code alpha' = alpha * r' / init_r} so that
   * {@code alpha'/r' * B' A' == deltaWeight()} (exactly, up to float rounding). Empty when no
   * triplet has a nonzero E (the delta is zero).
   */
  public Optional<LoraWeights> toLora() {
    long[] rows = IntStream.range(0, rank)
        .filter(i -> e.getDouble(i, 0) != 0).asLongStream().toArray();
    if (rows.length == 0) {
      return Optional.empty();
    }
    INDArray ae = a.mulColumnVector(e); // [r, in]
    INDArray a2 = ae.get(NDArrayIndex.indices(rows), NDArrayIndex.all()).dup('c'); // [r', in]
    INDArray b2 = b.get(NDArrayIndex.all(), NDArrayIndex.indices(rows)).dup('c'); // [out, r']
    return Optional.of(new LoraWeights(a2, b2, rows.length, config.alpha() * rows.length / rank));
  }

  /** A plain LoRA site: {@code (alpha / rank) * b a}, a [rank, in], b [out, rank]. */
  public record LoraWeights(INDArray a, INDArray b, int rank, double alpha) {
    public double scaling() {
      return alpha / rank;
    }
  }

  // ------------------------------------------------------------ used by the allocator

  /** Eq. 8-10 for A, B and E; a parameter the loss did not reach counts as zero gradient. */
  void updateImportance(Map<String, INDArray> gradients, double beta1, double beta2) {
    for (Map.Entry<String, INDArray> p : parameters().entrySet()) {
      INDArray grad = gradients.get(p.getKey());
      INDArray ipt = grad == null
          ? Nd4j.zeros(DataType.FLOAT, p.getValue().shape())
          : Transforms.abs(p.getValue().mul(grad.reshape(p.getValue().shape())), false);
      INDArray ibar = sensitivity.get(p.getKey());
      ibar.muli(beta1).addi(ipt.mul(1 - beta1));
      INDArray dev = Transforms.abs(ipt.subi(ibar), false);
      uncertainty.get(p.getKey()).muli(beta2).addi(dev.muli(1 - beta2));
    }
  }

  /** Eq. 11: {@code score(E_i) + mean_j score(A_ij) + mean_k score(B_ki)}, one per triplet. */
  double[] tripletScores() {
    INDArray sa = score(A).mean(1); // [r]
    INDArray sb = score(B).mean(0); // [r]
    INDArray se = score(E).reshape(rank); // [r]
    return se.add(sa.reshape(rank)).addi(sb.reshape(rank)).castTo(DataType.DOUBLE).toDoubleVector();
  }

  private INDArray score(String key) {
    return sensitivity.get(key).mul(uncertainty.get(key));
  }

  /** Sets the mask and zeroes E where a triplet is pruned. */
  void setMask(boolean[] mask) {
    System.arraycopy(mask, 0, keep, 0, rank);
    applyMask();
  }

  /** Zeroes E of the pruned triplets (the optimizer's momentum may have moved them). */
  void applyMask() {
    for (int i = 0; i < rank; i++) {
      if (!keep[i]) {
        e.putScalar(i, 0, 0f);
      }
    }
  }

  int rank() {
    return rank;
  }

  void resetImportance() {
    for (Map.Entry<String, INDArray> p : parameters().entrySet()) {
      sensitivity.put(p.getKey(), Nd4j.zeros(DataType.FLOAT, p.getValue().shape()));
      uncertainty.put(p.getKey(), Nd4j.zeros(DataType.FLOAT, p.getValue().shape()));
    }
  }
}
