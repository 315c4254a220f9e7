package dev.loraj.variants.adalora;

import com.fasterxml.jackson.databind.JsonNode;
import dev.loraj.core.adapter.Adapter;
import dev.loraj.core.adapter.AdapterConfig;
import dev.loraj.core.adapter.AdapterFactory;
import dev.loraj.core.adapter.ConfigCodec;
import dev.loraj.core.adapter.SiteInit;
import dev.loraj.core.checkpoint.PeftCodec;
import dev.loraj.core.lora.Fill;
import dev.loraj.core.model.LinearSite;
import dev.loraj.core.model.PeftModel;
import java.util.Map;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * AdaLoRA (Zhang et al. 2023, arXiv 2303.10512): {@code h = W x + (alpha / init_r) P Lambda Q x}
 * in SVD form, with a global rank budget that shrinks on a cubic schedule by pruning the
 * least important singular triplets (see {@link AdaLoraAdapter} for the update and the scores,
 * {@link RankAllocator} for the budget).
 *
 * <p>Unlike PEFT, where users must call {@code update_and_allocate} in their own loop and
 * forgetting it silently trains plain LoRA (PEFT issues #1327, #1801), allocation is driven by
 * the adapter lifecycle ({@code afterStep}), so any trainer that calls it gets AdaLoRA.
 *
 * <p>Init as PEFT's {@code AdaLoraLayer.reset_lora_parameters}: A, B ~ N(0, 0.02^2), E = 0, so
 * the model is unchanged at init. After training, {@link #rankPattern} gives the final rank per
 * module and {@link #exportAsLora} the equivalent plain LoRA weights per module.
 */
public final class AdaLora implements AdapterFactory<AdaLoraConfig>, PeftCodec {

  /** PEFT's {@code nn.init.normal_(std=0.02)} for A and B. */
  static final double INIT_STD = 0.02;

  @Override
  public String name() {
    return "adalora";
  }

  @Override
  public String description() {
    return "AdaLoRA: W x + s P diag(E) Q x with a global, importance-driven rank budget (arXiv 2303.10512)";
  }

  @Override
  public Class<AdaLoraConfig> configType() {
    return AdaLoraConfig.class;
  }

  @Override
  public AdaLoraConfig defaultConfig() {
    return AdaLoraConfig.defaults();
  }

  @Override
  public Adapter create(AdaLoraConfig config, SiteInit init) {
    RankAllocator allocator;
    try {
      allocator = init.shared(RankAllocator.class, RankAllocator::new);
    } catch (UnsupportedOperationException e) {
      throw new IllegalStateException(
          "AdaLoRA needs per-adapter shared state (SiteInit.shared): its rank budget is global"
              + " across the adapter's sites", e);
    }
    AdaLoraAdapter adapter = new AdaLoraAdapter(init.site(), config, allocator);
    var rnd = init.random();
    Fill.normal(adapter.a(), 0, INIT_STD, rnd); // [r, in]
    Fill.normal(adapter.b(), 0, INIT_STD, rnd); // [out, r]
    adapter.e().assign(0); // [r, 1]: delta = 0 at init
    allocator.register(adapter);
    return adapter;
  }

  /** PEFT's {@code ADALORA} format, see {@link AdaLoraPeft}. */
  @Override
  public String peftType() {
    return AdaLoraPeft.TYPE;
  }

  @Override
  public Map<String, Object> peftConfigFields(PeftModel.NamedAdapter adapter) {
    return AdaLoraPeft.configFields(adapter);
  }

  @Override
  public Map<String, INDArray> peftTensors(PeftModel.NamedAdapter adapter) {
    return AdaLoraPeft.tensors(adapter);
  }

  @Override
  public AdapterConfig configFromPeft(JsonNode root, ConfigCodec codec, String source) {
    return AdaLoraPeft.config(root, source);
  }

  @Override
  public void readPeftTensors(Map<String, Adapter> sites, JsonNode root, TensorReader file) {
    AdaLoraPeft.read(sites, root, file);
  }

  /** A [r, in] + B [out, r] + E [r, 1]: {@code r (in + out) + r}. */
  @Override
  public long trainableParameters(AdaLoraConfig config, LinearSite site) {
    return (long) config.rank() * (site.in() + site.out()) + config.rank();
  }

  /** The allocator of a named AdaLoRA adapter (shared by all its sites). */
  public static RankAllocator allocator(PeftModel.NamedAdapter adapter) {
    Adapter first = adapter.sites().values().stream().findFirst().orElse(null);
    if (first instanceof AdaLoraAdapter ada) {
      return ada.allocator();
    }
    throw new IllegalArgumentException("adapter '" + adapter.name() + "' is not an AdaLoRA adapter");
  }

  /** Final (current) rank per module path. */
  public static Map<String, Integer> rankPattern(PeftModel.NamedAdapter adapter) {
    return allocator(adapter).rankPattern();
  }

  /** Plain LoRA weights per module path with {@code (alpha/rank) B A == } the AdaLoRA delta. */
  public static Map<String, AdaLoraAdapter.LoraWeights> exportAsLora(PeftModel.NamedAdapter adapter) {
    return allocator(adapter).exportAsLora();
  }
}
