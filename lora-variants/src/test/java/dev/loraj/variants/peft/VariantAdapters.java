package dev.loraj.variants.peft;

import dev.loraj.core.adapter.Adapter;
import dev.loraj.core.adapter.AdapterConfig;
import dev.loraj.core.adapter.AdapterRegistry;
import dev.loraj.core.adapter.AdapterSpec;
import dev.loraj.core.golden.PeftGolden;
import dev.loraj.core.lora.Fill;
import dev.loraj.core.model.HfModels;
import dev.loraj.core.model.PeftModel;
import dev.loraj.core.model.Targets;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;
import java.util.SplittableRandom;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * One adapter of any registered variant on the tiny Llama of golden/peft_v1 (q_proj and v_proj:
 * inputs 32 wide, outputs 32 and 16, so VeRA's shared projections are sliced), with every
 * parameter moved by N(0, 0.1^2) noise so that the adapter changes the logits (B, VeRA's
 * lambda_b and AdaLoRA's E are zero at init). With {@code moveBuffers}, buffers move too (the
 * dense updates of Delta-LoRA and ReLoRA are zero at init).
 */
final class VariantAdapters {
  private VariantAdapters() {}

  static final long[] TOKENS = {3, 14, 15, 9, 26, 5, 35};

  static Path modelDir() {
    return PeftGolden.root().resolve("llama-tiny");
  }

  static PeftModel fresh(AdapterRegistry registry) throws IOException {
    return new PeftModel(HfModels.load(modelDir()), registry);
  }

  /** A model with adapter {@code default} of {@code variant} at rank 4, alpha 8. */
  static PeftModel adapted(AdapterRegistry registry, String variant, boolean moveBuffers)
      throws IOException {
    PeftModel pm = fresh(registry);
    pm.calibrate(java.util.List.of(Map.of("input_ids", ids()))); // CorDA's input covariance
    AdapterConfig cfg = registry.get(variant).defaultConfig().withRankAndAlpha(4, 8);
    pm.addAdapter("default", new AdapterSpec(cfg, Targets.of("q_proj", "v_proj")), 5);
    SplittableRandom rnd = new SplittableRandom(variant.hashCode());
    for (Adapter a : pm.adapter("default").sites().values()) {
      a.parameters().values().forEach(p -> move(p, rnd));
      if (moveBuffers) {
        a.buffers().values().forEach(b -> move(b, rnd));
      }
    }
    return pm;
  }

  static INDArray logits(PeftModel pm) {
    return pm.output(Map.of("input_ids", ids()));
  }

  static INDArray ids() {
    return Nd4j.createFromArray(TOKENS).reshape(1, TOKENS.length).castTo(DataType.INT64);
  }

  private static void move(INDArray p, SplittableRandom rnd) {
    INDArray noise = Nd4j.create(DataType.FLOAT, p.shape());
    Fill.normal(noise, 0, 0.1, rnd);
    p.addi(noise.castTo(p.dataType()));
  }
}
