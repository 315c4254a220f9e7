package dev.loraj.variants.adalora;

import static org.assertj.core.api.Assertions.assertThat;

import dev.loraj.core.adapter.Adapter;
import dev.loraj.core.adapter.AdapterSpec;
import dev.loraj.core.checkpoint.PeftAdapters;
import dev.loraj.core.golden.PeftGolden;
import dev.loraj.core.io.SafetensorsFile;
import dev.loraj.core.model.HfModels;
import dev.loraj.core.model.PeftModel;
import dev.loraj.core.model.Targets;
import dev.loraj.variants.Fixtures;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * A site whose triplets the rank allocator pruned all of is saved as PEFT saves it, at rank 0
 * (tensors with an empty rank axis), and loads back to the same logits.
 */
class AdaLoraPrunedSiteTest {

  @TempDir Path scratch;

  @Test
  void aFullyPrunedSiteSavesAtRankZeroAndLoadsBack() throws Exception {
    Path model = PeftGolden.root().resolve("llama-tiny");
    PeftModel pm = new PeftModel(HfModels.load(model), Fixtures.REGISTRY);
    AdaLoraConfig cfg = (AdaLoraConfig) Fixtures.REGISTRY.get("adalora").defaultConfig().withRankAndAlpha(4, 8);
    pm.addAdapter("default", new AdapterSpec(cfg, Targets.of("q_proj", "v_proj")), 5);
    boolean first = true;
    String pruned = null;
    for (Adapter site : pm.adapter("default").sites().values()) {
      AdaLoraAdapter a = (AdaLoraAdapter) site;
      a.parameters().values().forEach(p -> p.addi(Nd4j.rand(p.dataType(), p.shape()).subi(0.5).muli(0.2)));
      if (first) {
        a.setMask(new boolean[a.mask().length]); // every triplet pruned
        pruned = a.site().path();
        first = false;
      }
    }
    Map<String, INDArray> in = Map.of("input_ids", Nd4j.createFromArray(new long[][] {{3, 14, 15, 9, 26}}));
    INDArray expected = pm.output(in);

    Path dir = scratch.resolve("adalora");
    PeftAdapters.save(pm, "default", dir);
    try (SafetensorsFile f = SafetensorsFile.open(dir.resolve("adapter_model.safetensors"))) {
      String key = PeftAdapters.KEY_PREFIX + pruned + "." + AdaLoraAdapter.A;
      assertThat(f.info(key).shape()[0]).as("rank axis of %s", key).isZero();
    }
    PeftModel loaded = new PeftModel(HfModels.load(model), Fixtures.REGISTRY);
    PeftAdapters.load(loaded, dir, "default");
    assertThat(PeftGolden.maxAbsDiff(loaded.output(in), expected)).isLessThan(1e-5);
  }
}
