package dev.loraj.variants.dora;

import static org.assertj.core.api.Assertions.assertThat;

import dev.loraj.core.checkpoint.PeftAdapters;
import dev.loraj.core.golden.PeftGolden;
import dev.loraj.core.model.HfModels;
import dev.loraj.core.model.PeftModel;
import dev.loraj.variants.Fixtures;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Two DoRA adapters active on the same layers of the tiny Llama ({@code golden/combination_v1},
 * written by PEFT 0.21): PEFT applies them in turn (each rescales the output so far, its norm
 * taken over the unmerged base), and merging them one after the other gives the same model. Here
 * the unmerged and the merged model both match PEFT's logits, merged equals unmerged, and
 * unmerging or deleting the first-merged adapter leaves exactly the model of the other one.
 */
class DoraTwoAdaptersGoldenTest {

  static final Path DIR = PeftGolden.directory("/golden/combination_v1");

  static PeftModel model(String... adapters) throws Exception {
    PeftModel pm = new PeftModel(HfModels.load(PeftGolden.root().resolve("llama-tiny")), Fixtures.REGISTRY);
    for (String a : adapters) {
      PeftAdapters.load(pm, DIR.resolve("adapters").resolve(a), a);
    }
    pm.setActive(adapters);
    return pm;
  }

  static INDArray logits(PeftModel pm) {
    return pm.output(Map.of("input_ids", PeftGolden.input(PeftGolden.directoryIndex(DIR), "input_ids")));
  }

  @Test
  void twoMergedDoraAdaptersEqualTheUnmergedModelAndPeft() throws Exception {
    PeftModel pm = model("dora-x", "dora-y");
    INDArray unmerged = logits(pm);
    double vsPeftUnmerged = PeftGolden.maxAbsDiff(unmerged, PeftGolden.expected(DIR, "dora/unmerged/logits"));
    pm.merge();
    INDArray merged = logits(pm);
    double vsPeftMerged = PeftGolden.maxAbsDiff(merged, PeftGolden.expected(DIR, "dora/merged/logits"));
    double mergedVsUnmerged = PeftGolden.maxAbsDiff(merged, unmerged);
    System.out.printf("two DoRA adapters: unmerged vs PEFT %.2e, merged vs PEFT %.2e, merged vs unmerged %.2e%n",
        vsPeftUnmerged, vsPeftMerged, mergedVsUnmerged);
    assertThat(vsPeftUnmerged).isLessThanOrEqualTo(1e-5);
    assertThat(vsPeftMerged).isLessThanOrEqualTo(1e-5);
    assertThat(mergedVsUnmerged).isLessThanOrEqualTo(1e-5);
    pm.unmerge();
    assertThat(PeftGolden.maxAbsDiff(logits(pm), unmerged)).as("unmerge restores").isLessThanOrEqualTo(1e-5);
  }

  @Test
  void deletingTheFirstMergedAdapterLeavesTheOtherOne() throws Exception {
    INDArray onlyY = logits(model("dora-y"));
    PeftModel pm = model("dora-x", "dora-y");
    pm.merge("dora-x", "dora-y");
    pm.deleteAdapter("dora-x"); // unmerges y, unmerges x, merges y again
    assertThat(pm.adapter("dora-y").merged()).isTrue();
    assertThat(PeftGolden.maxAbsDiff(logits(pm), onlyY)).isLessThanOrEqualTo(1e-5);
  }
}
