package dev.loraj.eval.reproduce;

import dev.loraj.core.adapter.AdapterConfig;
import dev.loraj.core.adapter.AdapterRegistry;
import dev.loraj.core.model.LinearSite;
import dev.loraj.core.model.bert.BertCheckpoint;
import dev.loraj.core.model.bert.BertModel;
import dev.loraj.core.model.onnx.MiniLm;
import dev.loraj.core.quant.QuantFormat;
import dev.loraj.core.quant.QuantizedBase;
import dev.loraj.core.quant.QuantizedWeight;
import dev.loraj.variants.qlora.LoftQConfig;
import dev.loraj.variants.qlora.QLoraConfig;
import dev.loraj.variants.qlora.QPissaConfig;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * PiSSA (arXiv 2404.02948) section 4 (QPiSSA) and its table of quantization-error reduction
 * ratios: quantizing the PiSSA residual with NF4 leaves a smaller error than quantizing W (QLoRA)
 * or LoftQ's alternation. The ratio is {@code 1 - ||W - (deq(q(W')) + s B A)||_* / ||W - deq(q(W))||_*}
 * (nuclear norms, {@link QuantizedBase#errorReductionRatio}); QLoRA's is 0 by definition.
 *
 * <p>Here on real weights, the encoder linear matrices of the embedded all-MiniLM-L6-v2 (query,
 * key, value, attention output 384 x 384, intermediate 1536 x 384, output 384 x 1536), NF4 block
 * 64 with double quantization, alpha = r, ranks 16 and 64, through the registered {@code qlora},
 * {@code loftq} (1 and 5 iterations) and {@code qpissa} factories. Quick: layer 0 (6 matrices);
 * full: all 6 layers (36). Figures are means over the matrices with min..max and the number of
 * matrices where QPiSSA is ahead. The paper's Figure 2 (right) compares QPiSSA with LoftQ and
 * offers a 5-iteration refinement of QPiSSA itself (appendix E), which is not implemented here:
 * single-pass QPiSSA against LoftQ(5) is shown for information.
 */
final class QPissaVsLoftQ implements Reproduction {
  private static final AdapterRegistry REGISTRY = AdapterRegistry.discover();

  @Override
  public String id() {
    return "qpissa-vs-loftq";
  }

  @Override
  public String title() {
    return "QPiSSA reduces quantization error more than LoftQ and QLoRA";
  }

  @Override
  public String source() {
    return "PiSSA, arXiv 2404.02948, section 4 (QPiSSA), Figure 2 (right) and its quantization-error table";
  }

  @Override
  public String claim() {
    return "Quantizing the PiSSA residual with NF4 reduces the nuclear-norm quantization error more than"
        + " QLoRA and LoftQ at the same rank.";
  }

  @Override
  public Kind kind() {
    return Kind.MEASURED;
  }

  @Override
  public ReproductionResult run(boolean quick) throws IOException {
    BertCheckpoint cp = MiniLm.loadEmbedded();
    BertModel bert = new BertModel(cp.config(), cp.weights(), BertModel.Pooling.MEAN, 0);
    List<INDArray> ws = new ArrayList<>();
    for (LinearSite site : bert.linearSites()) {
      if (site.outputHead() || (quick && site.layerIndex().orElse(-1) != 0)) {
        continue;
      }
      ws.add(cp.weights().get(site.weightName()).castTo(DataType.FLOAT).dup('c')); // [out, in]
    }
    List<Check> checks = new ArrayList<>();
    for (int r : new int[] {16, 64}) {
      double[] loftq1 = new double[ws.size()];
      double[] loftq5 = new double[ws.size()];
      double[] qpissa = new double[ws.size()];
      double[] qlora = new double[ws.size()];
      for (int i = 0; i < ws.size(); i++) {
        INDArray w = ws.get(i);
        QuantizedWeight plain = QuantizedWeight.quantize(w, QuantFormat.NF4, 64, true);
        qlora[i] = ratio(w, plain, QLoraConfig.defaults().withRankAndAlpha(r, r));
        loftq1[i] = ratio(w, plain, LoftQConfig.defaults().withRankAndAlpha(r, r));
        loftq5[i] = ratio(w, plain, LoftQConfig.defaults().withRankAndAlpha(r, r).withIterations(5));
        qpissa[i] = ratio(w, plain, QPissaConfig.defaults().withRankAndAlpha(r, r));
      }
      String ours = String.format(Locale.ROOT, "QLoRA %s, LoftQ(1) %s, LoftQ(5) %s, QPiSSA %s", range(qlora),
          range(loftq1), range(loftq5), range(qpissa));
      boolean finite = Stats.of(qpissa).finite() && Stats.of(loftq1).finite() && Stats.of(loftq5).finite();
      int wins1 = wins(qpissa, loftq1);
      boolean ahead1 = Stats.of(qpissa).mean() > Stats.of(loftq1).mean() && wins1 * 2 > ws.size();
      checks.add(new Check("r = " + r + ": QPiSSA vs LoftQ(1) and QLoRA", "QPiSSA > LoftQ > QLoRA = 0", ours,
          "QPiSSA's mean ratio higher and ahead on most matrices", !finite ? Status.FAIL
              : ahead1 && Stats.of(loftq1).mean() > 0 ? Status.PASS : Status.DIFFERS,
          String.format(Locale.ROOT, "QPiSSA ahead of LoftQ(1) on %d of %d matrices", wins1, ws.size())
              + (ahead1 ? "" : "; single-pass QPiSSA does not beat one LoftQ iteration on these weights")));
      int wins5 = wins(qpissa, loftq5);
      boolean ahead5 = Stats.of(qpissa).mean() > Stats.of(loftq5).mean();
      checks.add(new Check("r = " + r + ": QPiSSA vs LoftQ(5)", "QPiSSA ahead (the paper refines QPiSSA with 5"
          + " iterations too)", String.format(Locale.ROOT, "LoftQ(5) %.4f, QPiSSA %.4f", Stats.of(loftq5).mean(),
          Stats.of(qpissa).mean()), "QPiSSA's mean ratio higher", !finite ? Status.FAIL
          : ahead5 ? Status.PASS : Status.DIFFERS,
          String.format(Locale.ROOT, "QPiSSA ahead on %d of %d matrices", wins5, ws.size())
              + (ahead5 ? "" : "; not comparable at equal cost: LoftQ(5) runs 5 quantize+SVD rounds, QPiSSA one,"
                  + " and the paper's iterated QPiSSA (appendix E) is not implemented here")));
    }
    return ReproductionResult.of(this, quick,
        "Error reduction ratio 1 - ||W - (deq(q(W')) + s B A)||_* / ||W - deq(q(W))||_* on " + ws.size()
            + " real all-MiniLM-L6-v2 encoder matrices, NF4 block 64 + double quantization, alpha = r;"
            + " mean (min..max) over the matrices.",
        checks);
  }

  private static int wins(double[] a, double[] b) {
    int n = 0;
    for (int i = 0; i < a.length; i++) {
      n += a[i] > b[i] ? 1 : 0;
    }
    return n;
  }

  private static String range(double[] v) {
    Stats s = Stats.of(v);
    return String.format(Locale.ROOT, "%.3f (%.3f..%.3f)", s.mean(), s.min(), s.max());
  }

  /** The ratio after creating {@code config} on a one-layer model holding W [out, in]. */
  static double ratio(INDArray w, QuantizedWeight plain, AdapterConfig config) {
    QuantizedBase.Adapted a = QuantizedBase.adaptOneMatrix(w, config, REGISTRY);
    return QuantizedBase.errorReductionRatio(w, a.base(), a.delta(), plain);
  }
}
