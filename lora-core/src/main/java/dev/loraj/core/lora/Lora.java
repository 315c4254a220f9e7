package dev.loraj.core.lora;

import dev.loraj.core.adapter.Adapter;
import dev.loraj.core.adapter.AdapterFactory;
import dev.loraj.core.adapter.SiteInit;
import dev.loraj.core.model.LinearSite;

/**
 * LoRA (Hu et al. 2021, arXiv 2106.09685, section 4.1): the frozen W gets a trainable low-rank
 * update, {@code h = W x + (alpha / r) B A x}, with B = 0 at init so training starts from the
 * pretrained model. rsLoRA's {@code alpha / sqrt(r)} is the {@code use_rslora} flag, as in PEFT.
 * On an embedding table the adapter is {@link EmbeddingLoraAdapter} (A = 0 at init instead).
 */
public final class Lora implements AdapterFactory<LoraConfig> {

  @Override
  public String name() {
    return "lora";
  }

  @Override
  public String description() {
    return "LoRA: W x + (alpha/r) B A x, B = 0 at init (arXiv 2106.09685)";
  }

  @Override
  public Class<LoraConfig> configType() {
    return LoraConfig.class;
  }

  @Override
  public LoraConfig defaultConfig() {
    return LoraConfig.defaults();
  }

  @Override
  public Adapter create(LoraConfig config, SiteInit init) {
    if (init.site().embedding()) {
      return new EmbeddingLoraAdapter(init.site(), config, config.scaling(), init);
    }
    LoraAdapter adapter = new LoraAdapter(init.site(), config, config.scaling(), config.dropout());
    LoraInit strategy = config.init() == LoraConfig.Init.GAUSSIAN ? LoraInit.GAUSSIAN : LoraInit.KAIMING;
    strategy.initialize(adapter.a(), adapter.b(), adapter.scaling(), init);
    return adapter;
  }

  /** Embedding tables as PEFT's {@code lora.Embedding} ({@link EmbeddingLoraAdapter}). */
  @Override
  public boolean adaptsEmbeddings() {
    return true;
  }

  /** r (in + out) per adapted matrix (the paper's count; heads are not counted). */
  @Override
  public long trainableParameters(LoraConfig config, LinearSite site) {
    return (long) config.rank() * (site.in() + site.out());
  }
}
