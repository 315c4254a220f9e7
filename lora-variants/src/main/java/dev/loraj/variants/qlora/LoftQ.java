package dev.loraj.variants.qlora;

import dev.loraj.core.adapter.SiteInit;
import dev.loraj.core.linalg.Svd;
import dev.loraj.core.lora.LoraAdapter;
import dev.loraj.core.quant.QuantizedWeight;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * LoftQ (Li et al. 2023, arXiv 2310.08659, Algorithm 1; PEFT {@code loftq_utils.loftq_init}):
 * the quantized base Q and the adapter start so that {@code Q + s B A ~= W}, by alternating
 * T times
 *
 * <pre>
 *   Q_t   = q(W - s B_{t-1} A_{t-1})          (B_0 A_0 = 0: the first Q is q(W))
 *   s B_t A_t = SVD_r(W - deq(Q_t))            (rank-r truncated SVD of the residual)
 * </pre>
 *
 * and starting training from {@code (Q_T, A_T, B_T)}. The SVD term {@code U S Vt} is split as in
 * PiSSA, {@code B = U sqrt(S/s)}, {@code A = sqrt(S/s) Vt}: PEFT assigns {@code B = U sqrt(S)},
 * {@code A = sqrt(S) Vt} and so ignores the scaling (PEFT issue #1982; its adapter then adds
 * {@code s} times the residual, exact only when alpha = r); here {@code s B A} is the residual's
 * SVD term for any alpha. The output at init is not the original model's, but closer to it than
 * QLoRA's (see the tests for measured error reductions).
 */
public final class LoftQ extends QuantizedLoraFactory<LoftQConfig> {

  @Override
  public String name() {
    return "loftq";
  }

  @Override
  public String description() {
    return "LoftQ: quantized base and LoRA initialised by alternating quantization and SVD (arXiv 2310.08659)";
  }

  @Override
  public Class<LoftQConfig> configType() {
    return LoftQConfig.class;
  }

  @Override
  public LoftQConfig defaultConfig() {
    return LoftQConfig.defaults();
  }

  @Override
  protected QuantizedWeight initialize(LoftQConfig config, INDArray w, LoraAdapter adapter, SiteInit init) {
    LoraAdapter.checkRankFits(init.site(), config.rank());
    double s = config.scaling();
    INDArray target = w;                                   // W - s B A, W at first
    QuantizedWeight q = null;
    for (int t = 0; t < config.loftqIter(); t++) {
      q = quantize(config, target);
      INDArray residual = w.sub(q.dequantize());          // W - deq(Q_t)   [out, in]
      assignFactors(Svd.exact(residual).top(config.rank()), s, adapter);
      if (t + 1 < config.loftqIter()) {
        target = w.sub(adapter.deltaWeight());            // W - s B A      [out, in]
      }
    }
    return q;
  }
}
