package dev.loraj.variants.qlora;

import dev.loraj.core.adapter.SiteInit;
import dev.loraj.core.linalg.Svd;
import dev.loraj.core.lora.LoraAdapter;
import dev.loraj.core.quant.QuantizedWeight;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * QPiSSA (Meng et al. 2024, arXiv 2404.02948, section 4 "QPiSSA"): PiSSA's init with the
 * residual quantized instead of W. With {@code U S Vt = svd(W)} and the r largest triplets,
 * {@code S' = S_r / s}, {@code A = sqrt(S') Vt_r} [r, in], {@code B = U_r sqrt(S')} [out, r], the
 * base becomes {@code q(W - s B A)}. The principal components live in float in the adapter; the
 * residual has a flatter spectrum and smaller range, so quantizing it loses less than
 * quantizing W (the paper's error-reduction ratio, measured in the tests).
 *
 * <p>Self-contained (one exact LAPACK SVD per site); plain PiSSA lives elsewhere.
 */
public final class QPissa extends QuantizedLoraFactory<QPissaConfig> {

  @Override
  public String name() {
    return "qpissa";
  }

  @Override
  public String description() {
    return "QPiSSA: principal singular components as the adapter, quantized residual base (arXiv 2404.02948)";
  }

  @Override
  public Class<QPissaConfig> configType() {
    return QPissaConfig.class;
  }

  @Override
  public QPissaConfig defaultConfig() {
    return QPissaConfig.defaults();
  }

  @Override
  protected QuantizedWeight initialize(QPissaConfig config, INDArray w, LoraAdapter adapter, SiteInit init) {
    LoraAdapter.checkRankFits(init.site(), config.rank());
    assignFactors(Svd.exact(w).top(config.rank()), config.scaling(), adapter);
    INDArray residual = w.subi(adapter.deltaWeight()); // W - s B A   [out, in]
    return quantize(config, residual);
  }
}
