package dev.loraj.variants.qlora;

import dev.loraj.core.adapter.Adapter;
import dev.loraj.core.adapter.AdapterFactory;
import dev.loraj.core.adapter.SiteInit;
import dev.loraj.core.linalg.SvdResult;
import dev.loraj.core.lora.LoraAdapter;
import dev.loraj.core.model.LinearSite;
import dev.loraj.core.quant.QuantizedWeight;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.ops.transforms.Transforms;

/**
 * The shape shared by {@code qlora}, {@code loftq} and {@code qpissa}: a plain LoRA branch
 * {@code s B A x} (the adapter is an ordinary {@link LoraAdapter}) over a base that
 * {@link #create} replaces by a quantized weight through {@link SiteInit#rewriteBase(QuantizedWeight)}.
 * The variants differ only in what they quantize and how A and B start.
 *
 * <p>The output is not unchanged at init (the base moves by its quantization error, which LoftQ
 * and QPiSSA shrink), so {@link #identityAtInit} is false; merging into the quantized base
 * requantizes (see {@code PeftModel}).
 */
abstract class QuantizedLoraFactory<C extends QuantizedLoraConfig> implements AdapterFactory<C> {

  /**
   * Fills {@code adapter}'s A [r, in] and B [out, r] in place and returns the quantized base.
   *
   * @param w the current frozen weight, float [out, in] (a copy this method may modify)
   */
  protected abstract QuantizedWeight initialize(C config, INDArray w, LoraAdapter adapter, SiteInit init);

  /**
   * Fills {@code adapter}'s A and B for a base already held quantized as {@code held} and
   * returns true when the variant keeps that base as it is; false (the default) makes
   * {@link #create} quantize the dequantized weight as usual.
   */
  protected boolean keepHeld(C config, QuantizedWeight held, LoraAdapter adapter, SiteInit init) {
    return false;
  }

  /** Whether {@code w} was quantized with {@code config}'s format, block size and double quantization. */
  static boolean sameSettings(QuantizedLoraConfig config, QuantizedWeight w) {
    return w.format() == config.format() && w.blockSize() == config.blockSize()
        && w.doubleQuantized() == config.doubleQuant();
  }

  @Override
  public final Adapter create(C config, SiteInit init) {
    LoraAdapter adapter = new LoraAdapter(init.site(), config, config.scaling(), config.dropout());
    QuantizedWeight held = init.heldBase().orElse(null);
    if (held != null && keepHeld(config, held, adapter, init)) {
      return adapter; // quantized as it was loaded: no float copy, no second rounding
    }
    INDArray w = init.baseWeight(); // [out, in]
    QuantizedWeight base = initialize(config, w, adapter, init);
    init.rewriteBase(base);
    if (!w.wasClosed()) {
      w.close(); // the float copy goes now, not at the next collection: only the codes stay
    }
    return adapter;
  }

  /** r (in + out) per adapted matrix: the same A and B as LoRA. */
  @Override
  public long trainableParameters(C config, LinearSite site) {
    return (long) config.rank() * (site.in() + site.out());
  }

  /** False: the output moves by the quantization error of the new base. */
  @Override
  public boolean identityAtInit(C config) {
    return false;
  }

  @Override
  public boolean rewritesBase(C config) {
    return true;
  }

  static QuantizedWeight quantize(QuantizedLoraConfig c, INDArray w) {
    return QuantizedWeight.quantize(w, c.format(), c.blockSize(), c.doubleQuant());
  }

  /**
   * PiSSA's split of a rank-r SVD term (arXiv 2404.02948; docs/variants.md "PiSSA"): {@code S' = S / s},
   * {@code A = sqrt(S') Vt}, {@code B = U sqrt(S')}, so that {@code s B A = U S Vt} for any s.
   */
  static void assignFactors(SvdResult top, double scaling, LoraAdapter adapter) {
    int r = top.rank();
    INDArray root = Transforms.sqrt(top.s().div(scaling), false); // [r]
    adapter.b().assign(top.u().mulRowVector(root));                // [out, r] * [r]
    adapter.a().assign(top.vt().mulColumnVector(root.reshape(r, 1))); // [r, in] * [r, 1]
  }
}
