package dev.loraj.variants.qlora;

import dev.loraj.core.adapter.SiteInit;
import dev.loraj.core.lora.LoraAdapter;
import dev.loraj.core.lora.LoraConfig;
import dev.loraj.core.lora.LoraInit;
import dev.loraj.core.quant.QuantizedWeight;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * QLoRA (Dettmers et al. 2023, arXiv 2305.14314, eq. 5):
 * {@code Y = X dd(c1, c2, W_NF4) + s X A^T B^T}, a LoRA branch over a frozen base stored in
 * 4-bit NormalFloat with block-wise absmax scales that are themselves quantized (double
 * quantization). The paper adapts all linear layers ({@code Targets.allLinear()}) with r = 64,
 * alpha = 16.
 *
 * <p>At each adapted site, {@link #create} quantizes the current base weight (dequantized first
 * if it is already quantized with other settings; kept as it is when it was quantized with these
 * settings, as {@code HfModels.load} with a {@code QuantizeOnLoad} does) and draws A like LoRA with B = 0, so the output at init equals the
 * quantized base's output exactly, not the original model's. The base can also be quantized on
 * its own ({@code QuantizedBase.quantize}) and combined with any adapter: this variant is that
 * composition, packaged as one config.
 */
public final class QLora extends QuantizedLoraFactory<QLoraConfig> {

  @Override
  public String name() {
    return "qlora";
  }

  @Override
  public String description() {
    return "QLoRA: LoRA over an NF4 base with double-quantized block scales (arXiv 2305.14314)";
  }

  @Override
  public Class<QLoraConfig> configType() {
    return QLoraConfig.class;
  }

  @Override
  public QLoraConfig defaultConfig() {
    return QLoraConfig.defaults();
  }

  @Override
  protected QuantizedWeight initialize(QLoraConfig config, INDArray w, LoraAdapter adapter, SiteInit init) {
    initializeFactors(config, adapter, init);
    return quantize(config, w);
  }

  /** A base quantized with this config's settings (while it was loaded) is kept, not requantized. */
  @Override
  protected boolean keepHeld(QLoraConfig config, QuantizedWeight held, LoraAdapter adapter,
      SiteInit init) {
    if (!sameSettings(config, held)) {
      return false;
    }
    initializeFactors(config, adapter, init);
    return true;
  }

  private static void initializeFactors(QLoraConfig config, LoraAdapter adapter, SiteInit init) {
    LoraInit strategy = config.init() == LoraConfig.Init.GAUSSIAN ? LoraInit.GAUSSIAN : LoraInit.KAIMING;
    strategy.initialize(adapter.a(), adapter.b(), adapter.scaling(), init);
  }
}
