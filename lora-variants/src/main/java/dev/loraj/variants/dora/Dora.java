package dev.loraj.variants.dora;

import dev.loraj.core.adapter.Adapter;
import dev.loraj.core.adapter.AdapterFactory;
import dev.loraj.core.adapter.AdapterGraph;
import dev.loraj.core.adapter.SiteInit;
import dev.loraj.core.graph.FrozenMatMul;
import dev.loraj.core.graph.FrozenMultiply;
import dev.loraj.core.graph.GradientCut;
import dev.loraj.core.graph.Graphs;
import dev.loraj.core.lora.LoraAdapter;
import dev.loraj.core.lora.LoraConfig;
import dev.loraj.core.lora.LoraInit;
import dev.loraj.core.model.LinearSite;
import java.util.LinkedHashMap;
import java.util.Map;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.autodiff.samediff.VariableType;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * DoRA, weight-decomposed low-rank adaptation (Liu et al. 2024, arXiv 2402.09353, section 4.1,
 * eq. 5): the adapted weight is split into a trainable magnitude and a direction that LoRA
 * updates,
 *
 * <pre>
 *   W' = m * (W + s B A) / ||W + s B A||_c        m [out], norms per output row (over in)
 * </pre>
 *
 * with {@code m} initialised to {@code ||W||_c} (B = 0), so the model is unchanged at init.
 *
 * <p>Section 4.3 ("reduce training overhead") treats the norm as a constant in backpropagation;
 * like PEFT ({@code tuners/lora/dora.py}) the norm here is {@code n = ||W + s sg(B A)||} with
 * {@code sg} a stop-gradient, computed from W's row norms and rank-r products without forming
 * {@code W + s B A} ({@code weightNorm}), and the branch added to the frozen output is
 *
 * <pre>
 *   (m/n - 1) * (x W^T) + (m/n) * s * B A x          [n, out]
 * </pre>
 *
 * where {@code x W^T} is the base output without its bias (so the bias is not rescaled). With
 * dropout active it is recomputed from the dropped input, as PEFT does.
 *
 * <p>Merge writes {@code W' = (m/n)(W + dW)}; unmerge inverts it with the norm cached at merge
 * time, {@code W = W'/(m/n) - dW} (the merged weight alone does not determine n). Several DoRA
 * adapters on one site apply in turn, as in PEFT: each rescales the output so far (the base plus
 * the adapters before it) by its m/n, with n always taken over the unmerged base W, so merging
 * them one after another gives the unmerged model. PEFT keys:
 * {@code lora_A.weight}, {@code lora_B.weight}, {@code lora_magnitude_vector} (no ".weight").
 *
 * <p>The norm needs the base weight in the graph ({@link AdapterGraph#baseWeight()}); on a
 * quantized base that is the dequantized weight, a graph constant, so DoRA on a quantized base is
 * QDoRA (the norm is taken of the weight the forward pass uses).
 */
public final class Dora implements AdapterFactory<DoraConfig> {

  /** PEFT's key of the magnitude vector [out]. */
  public static final String MAGNITUDE = "lora_magnitude_vector";

  @Override
  public String name() {
    return "dora";
  }

  @Override
  public String description() {
    return "DoRA: magnitude m and direction (W + sBA)/||W + sBA|| trained (arXiv 2402.09353)";
  }

  @Override
  public Class<DoraConfig> configType() {
    return DoraConfig.class;
  }

  @Override
  public DoraConfig defaultConfig() {
    return DoraConfig.defaults();
  }

  @Override
  public Adapter create(DoraConfig config, SiteInit init) {
    LoraConfig lora = config.lora();
    DoraAdapter adapter = new DoraAdapter(init.site(), config, lora.scaling(), config.dropout());
    LoraInit strategy = config.init() == LoraConfig.Init.GAUSSIAN ? LoraInit.GAUSSIAN : LoraInit.KAIMING;
    strategy.initialize(adapter.a(), adapter.b(), adapter.scaling(), init);
    // m = ||W + s B A||_c per output row (eq. 5 at t = 0): identity at init
    adapter.magnitude.assign(init.baseWeight().addi(adapter.deltaWeight()).norm2(1));
    return adapter;
  }

  /** LoRA's r (in + out) plus one magnitude per output unit. */
  @Override
  public long trainableParameters(DoraConfig config, LinearSite site) {
    return (long) config.rank() * (site.in() + site.out()) + site.out();
  }

  /** LoRA's A and B plus the magnitude vector, with DoRA's forward, merge and unmerge. */
  public static final class DoraAdapter extends LoraAdapter {

    private final double dropoutRate;
    private final INDArray magnitude; // [out]
    private INDArray mergedNorm; // [out], set by merge, read by unmerge

    DoraAdapter(LinearSite site, DoraConfig config, double scaling, double dropout) {
      super(site, config, scaling, 0.0); // dropout applied here, shared by both terms
      this.dropoutRate = dropout;
      this.magnitude = Nd4j.create(DataType.FLOAT, site.out());
    }

    /** The magnitude vector m [out] (updated in place by the trainer). */
    public INDArray magnitude() {
      return magnitude;
    }

    @Override
    public Map<String, INDArray> parameters() {
      Map<String, INDArray> p = new LinkedHashMap<>(super.parameters());
      p.put(MAGNITUDE, magnitude);
      return p;
    }

    @Override
    public java.util.Optional<String> stateBeyondLowRank() {
      return java.util.Optional.of("its magnitude vector '" + MAGNITUDE + "' rescales every row of the adapted"
          + " weight");
    }

    /** A and B: the norm n is detached (section 4.3), so their gradients omit dn/dA, dn/dB. */
    @Override
    public Map<String, String> surrogateGradients() {
      String why = "the weight norm is detached from the graph (DoRA section 4.3, as PEFT)";
      return Map.of(A, why, B, why);
    }

    @Override
    public SDVariable forward(AdapterGraph g, SDVariable x, SDVariable baseOut) {
      SameDiff sd = g.sd();
      SDVariable av = g.param(A);
      SDVariable bv = g.param(B);
      SDVariable m = g.param(MAGNITUDE);
      SDVariable stored = g.baseWeight(); // [out, in], or [in, out] with fan_in_fan_out
      SDVariable norm = weightNorm(g, stored, av, bv); // [out], detached
      SDVariable scale = m.div(norm); // m/n [out]

      SDVariable in = x;
      SDVariable direct; // the output so far without the bias (x W^T for one adapter) [n, out]
      if (g.training() && dropoutRate > 0) {
        in = Graphs.dropout(sd, x, dropoutRate);
        direct = FrozenMatMul.apply(sd, in, stored, !site.fanInFanOut()); // [n, in] x [in, out]
      } else {
        SDVariable bias = g.baseBias();
        direct = bias == null ? baseOut : baseOut.sub(bias);
      }
      SDVariable lora = branch(g, in, av, bv); // s B A x [n, out]
      // (m/n - 1) x W^T + (m/n) s B A x, as (m/n)(x W^T + s B A x) - x W^T: one broadcast
      // product, whose gradient for m/n is a column sum
      return FrozenMultiply.rowScale(sd, direct.add(lora), scale).sub(direct);
    }

    /**
     * The row norms {@code n = ||W + s B A||_c} [out] without forming {@code W + s B A}
     * ([out, in], five passes over it per site and step): with {@code W_i} the i-th row of W,
     *
     * <pre>
     *   n_i^2 = ||W_i||^2 + 2 s &lt;W_i, (B A)_i&gt; + s^2 ||(B A)_i||^2
     *         = ||W_i||^2 + s sum_k B_ik (2 (W A^T)_ik + s (B (A A^T))_ik)
     * </pre>
     *
     * since {@code <W_i, (BA)_i> = sum_k B_ik (W A^T)_ik} and {@code ||(BA)_i||^2 = B_i (A A^T)
     * B_i^T}: products of [out, in] x [in, r], [r, in] x [in, r] and [out, r] x [r, r], and
     * element-wise work on [out, r]. Exact in real arithmetic; in float32 the sum of squares is
     * formed as {@code ||W_i||^2 (1 + small)} (the update is small against W in DoRA's use), so
     * its rounding error is a few ulps of {@code n_i^2}, and a row whose terms cancel to a
     * negative rounding residue is clamped to 0 before the square root. {@code ||W_i||^2} is
     * computed once, in double precision, when W is a graph constant (a frozen or dequantized
     * base), and in the graph otherwise. A and B enter through {@link GradientCut}s: the norm is
     * detached (section 4.3), so SameDiff neither differentiates it nor passes zeros back.
     */
    private SDVariable weightNorm(AdapterGraph g, SDVariable stored, SDVariable av, SDVariable bv) {
      SameDiff sd = g.sd();
      boolean t = site.fanInFanOut(); // stored [in, out]
      SDVariable a = GradientCut.of(sd, av); // [r, in]
      SDVariable b = GradientCut.of(sd, bv); // [out, r]
      SDVariable wSq;
      SDVariable wd = stored; // W as the norm reads it: detached when it trains (a trainable base)
      INDArray w = stored.getVariableType() == VariableType.CONSTANT ? stored.getArr() : null;
      if (w != null) {
        INDArray d = w.castTo(DataType.DOUBLE);
        wSq = g.constant("w_row_norm_sq", d.muli(d).sum(t ? 0 : 1).castTo(DataType.FLOAT));
      } else {
        wd = GradientCut.of(sd, stored);
        wSq = sd.math().square(wd).sum(t ? 0 : 1);
      }
      SDVariable wa = sd.mmul(wd, a, t, true, false); // W A^T [out, r]
      SDVariable gram = sd.mmul(a, a, false, true, false); // A A^T [r, r]
      SDVariable bg = sd.mmul(b, gram); // B (A A^T) [out, r]
      // the sum over k as a product with a column of ones: ND4J's reduce over an axis of length 1
      // (rank 1) fails in SameDiff's session
      SDVariable ones = g.constant("ones_r", Nd4j.ones(DataType.FLOAT, rank, 1));
      SDVariable cross = sd.mmul(b.mul(wa.mul(2.0).add(bg.mul(scaling))), ones).reshape(site.out()); // [out]
      SDVariable sq = wSq.add(cross.mul(scaling));
      return sd.math().sqrt(sd.nn().relu(sq, 0.0));
    }

    /** {@code W' = (m/n)(W + dW)}, n the row norms of {@code W + dW}; caches n for unmerge. */
    @Override
    public INDArray merge(INDArray weight) {
      return merge(weight, weight);
    }

    /**
     * {@code W' = (m/n)(W_cur + dW)} with {@code n = ||W_0 + dW||}, W_0 the unmerged base: the
     * forward pass rescales the output so far (base and the adapters before this one) by m/n, and
     * takes n over W_0, so merging adapters one after another gives the unmerged model (PEFT
     * 0.21's order and norm). Caches n for unmerge.
     */
    @Override
    public INDArray merge(INDArray weight, INDArray unmergedBase) {
      INDArray delta = deltaWeight();
      INDArray norm = unmergedBase.add(delta).norm2(1); // [out]
      mergedNorm = norm;
      return weight.add(delta).muliColumnVector(magnitude.div(norm).reshape(site.out(), 1));
    }

    /** {@code W = W' / (m/n) - dW} with the n of the last merge (the adapter is not changed). */
    @Override
    public INDArray unmerge(INDArray merged) {
      if (mergedNorm == null) {
        throw new IllegalStateException(
            "DoRA adapter at '" + site.path() + "' was not merged: nothing to unmerge");
      }
      INDArray scale = magnitude.div(mergedNorm).reshape(site.out(), 1); // [out, 1]
      return merged.divColumnVector(scale).subi(deltaWeight());
    }
  }
}
