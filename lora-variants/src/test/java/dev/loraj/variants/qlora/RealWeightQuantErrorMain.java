package dev.loraj.variants.qlora;

import static org.bytedeco.openblas.global.openblas.LAPACKE_dgesdd;
import static org.bytedeco.openblas.global.openblas.LAPACK_ROW_MAJOR;

import dev.loraj.core.adapter.AdapterConfig;
import dev.loraj.core.adapter.AdapterRegistry;
import dev.loraj.core.linalg.LapackException;
import dev.loraj.core.model.LinearSite;
import dev.loraj.core.model.bert.BertCheckpoint;
import dev.loraj.core.model.bert.BertModel;
import dev.loraj.core.model.onnx.MiniLm;
import dev.loraj.core.quant.QuantFormat;
import dev.loraj.core.quant.QuantizedBase;
import dev.loraj.core.quant.QuantizedWeight;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * The quantization-error reduction ratio of the PiSSA paper (arXiv 2404.02948, section 4),
 * {@code 1 - ||W - (deq(q(W')) + s B A)||_* / ||W - deq(q(W))||_*} (nuclear norms), on REAL
 * weights: the 36 encoder linear matrices of the embedded all-MiniLM-L6-v2 (6 layers x query,
 * key, value, attention output 384 x 384, intermediate 1536 x 384, output 384 x 1536), NF4,
 * block 64, double quantization, alpha = r. QLoRA is 0 by definition. Prints the mean over the
 * matrices (and over each shape group) for rank 16 and 64. Not a test; run it by hand:
 *
 * <pre>
 *   mvn -q -B -o -pl lora-variants -am test-compile
 *   java -cp lora-variants/target/test-classes:lora-variants/target/classes:... \
 *       dev.loraj.variants.qlora.RealWeightQuantErrorMain [ranks, default 16,64]
 * </pre>
 *
 * <p>Measured (mean over the 36 matrices; in brackets min..max, then mean of the 24 square and
 * of the 12 feed-forward matrices):
 *
 * <pre>
 *   rank  QLoRA  LoftQ(1)                    LoftQ(5)                    QPiSSA
 *   16    0      0.090 (0.064..0.112) .099/.073  0.175 (0.138..0.202) .192/.143  0.127 (0.078..0.204) .139/.102
 *   64    0      0.312 (0.236..0.379) .344/.250  0.406 (0.284..0.457) .435/.348  0.342 (0.233..0.429) .379/.269
 * </pre>
 *
 * On these real weights QPiSSA beats one LoftQ iteration but not five (the synthetic
 * decaying-spectrum test, {@code QuantizationErrorReductionTest}, has QPiSSA ahead of LoftQ(1)).
 * Float {@code sgesdd} did not converge on one rank-64 residual; that ratio is computed from
 * double-precision singular values ({@code dgesdd}) instead, and the run prints how often.
 */
public final class RealWeightQuantErrorMain {
  private static final AdapterRegistry REGISTRY = AdapterRegistry.discover();
  private static int fallbacks;

  private RealWeightQuantErrorMain() {}

  public static void main(String[] args) throws Exception {
    int[] ranks = args.length > 0
        ? java.util.Arrays.stream(args[0].split(",")).mapToInt(Integer::parseInt).toArray()
        : new int[] {16, 64};
    BertCheckpoint cp = MiniLm.loadEmbedded();
    BertModel bert = new BertModel(cp.config(), cp.weights(), BertModel.Pooling.MEAN, 0);
    List<LinearSite> sites = bert.linearSites();
    System.out.printf("all-MiniLM-L6-v2: %d linear matrices, NF4 block 64 + double quantization, alpha = r%n",
        sites.size());
    String[] methods = {"QLoRA", "LoftQ(1)", "LoftQ(5)", "QPiSSA"};
    for (int r : ranks) {
      Map<String, List<Double>> all = new LinkedHashMap<>();
      Map<String, List<Double>> square = new LinkedHashMap<>();
      Map<String, List<Double>> ffn = new LinkedHashMap<>();
      for (String m : methods) {
        all.put(m, new ArrayList<>());
        square.put(m, new ArrayList<>());
        ffn.put(m, new ArrayList<>());
      }
      long t0 = System.nanoTime();
      for (LinearSite site : sites) {
        INDArray w = cp.weights().get(site.weightName()).castTo(DataType.FLOAT).dup('c'); // [out, in]
        QuantizedWeight plain = QuantizedWeight.quantize(w, QuantFormat.NF4, 64, true);
        AdapterConfig[] configs = {
            QLoraConfig.defaults().withRankAndAlpha(r, r),
            LoftQConfig.defaults().withRankAndAlpha(r, r),
            LoftQConfig.defaults().withRankAndAlpha(r, r).withIterations(5),
            QPissaConfig.defaults().withRankAndAlpha(r, r)};
        for (int i = 0; i < methods.length; i++) {
          double ratio = ratio(w, plain, configs[i]);
          all.get(methods[i]).add(ratio);
          (site.in() == site.out() ? square : ffn).get(methods[i]).add(ratio);
        }
      }
      System.out.printf("%nrank %d (%.0f s; nuclear norms in double after a float SVD failure: %d)%n",
          r, (System.nanoTime() - t0) / 1e9, fallbacks);
      fallbacks = 0;
      System.out.printf("%-9s %10s %10s %10s %10s %10s%n", "method", "mean(36)", "min", "max",
          "mean(24 sq)", "mean(12 ffn)");
      for (String m : methods) {
        List<Double> a = all.get(m);
        System.out.printf("%-9s %10.4f %10.4f %10.4f %10.4f %10.4f%n", m, mean(a),
            a.stream().mapToDouble(Double::doubleValue).min().orElse(Double.NaN),
            a.stream().mapToDouble(Double::doubleValue).max().orElse(Double.NaN),
            mean(square.get(m)), mean(ffn.get(m)));
      }
    }
  }

  /** The ratio after creating {@code config} on a one-layer model holding W [out, in]. */
  static double ratio(INDArray w, QuantizedWeight plain, AdapterConfig config) {
    QuantizedBase.Adapted a = QuantizedBase.adaptOneMatrix(w, config, REGISTRY);
    try {
      return QuantizedBase.errorReductionRatio(w, a.base(), a.delta(), plain);
    } catch (LapackException e) {
      // float sgesdd may not converge on a residual; the same ratio with double singular values
      fallbacks++;
      INDArray adapted = w.sub(a.base().dequantize()).subi(a.delta()); // W - (deq(q(W')) + s B A)
      INDArray qlora = w.sub(plain.dequantize());                            // W - deq(q(W))
      return 1 - nuclearNormDouble(adapted) / nuclearNormDouble(qlora);
    }
  }

  /** Sum of singular values by LAPACK dgesdd (values only) on a double copy. */
  static double nuclearNormDouble(INDArray m) {
    int rows = Math.toIntExact(m.rows());
    int cols = Math.toIntExact(m.columns());
    double[] a = m.castTo(DataType.DOUBLE).dup('c').data().asDouble();
    double[] s = new double[Math.min(rows, cols)];
    int info = LAPACKE_dgesdd(LAPACK_ROW_MAJOR, (byte) 'N', rows, cols, a, cols, s,
        new double[1], 1, new double[cols], cols); // row-major LAPACKE checks ldvt >= n even for 'N'
    if (info != 0) {
      throw new IllegalStateException("dgesdd failed with info = " + info);
    }
    return java.util.Arrays.stream(s).sum();
  }

  private static double mean(List<Double> a) {
    return a.stream().mapToDouble(Double::doubleValue).average().orElse(Double.NaN);
  }
}
