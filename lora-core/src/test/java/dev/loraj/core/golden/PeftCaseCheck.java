package dev.loraj.core.golden;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.loraj.core.adapter.AdapterRegistry;
import dev.loraj.core.checkpoint.PeftAdapters;
import dev.loraj.core.model.HfModels;
import dev.loraj.core.model.PeftModel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Runs one golden PEFT case (golden/peft_v1/cases.json) end to end: load the base model and the
 * adapter(s) written by PEFT, compare base, unmerged and merged logits and the merged weights with
 * PyTorch's, unmerge, then save the adapter(s) with {@link PeftAdapters#save}, load them into a
 * fresh model and require identical logits. Shared by lora-core's and lora-variants' tests.
 */
public final class PeftCaseCheck {

  /** Tolerance for logits and weights against PyTorch (float32 on both sides). */
  public static final double TOLERANCE = 1e-4;

  /** The measured max |Java - PyTorch| per quantity. */
  public record Diffs(String name, double base, double unmerged, double merged, double mergedWeights,
      double unmergeRestores, double savedReloaded) {
    @Override
    public String toString() {
      return String.format("%-26s base %.2e  unmerged %.2e  merged %.2e  merged W %.2e"
              + "  unmerge %.2e  save/load %.2e", name, base, unmerged, merged, mergedWeights,
          unmergeRestores, savedReloaded);
    }
  }

  private PeftCaseCheck() {}

  public static Diffs run(JsonNode c, AdapterRegistry registry, Path scratch) throws Exception {
    Path root = PeftGolden.root();
    String name = c.path("name").asText();
    Map<String, INDArray> in = PeftGolden.inputs(c);
    PeftModel pm = new PeftModel(HfModels.load(root.resolve(c.path("model_dir").asText())), registry);
    double base = PeftGolden.maxAbsDiff(pm.output(in), PeftGolden.expected(c.path("base_logits_key").asText()));

    List<String> names = new ArrayList<>();
    PeftAdapters.load(pm, root.resolve(c.path("adapter_dir").asText()), "default");
    names.add("default");
    if (c.has("second_adapter_dir")) {
      PeftAdapters.load(pm, root.resolve(c.path("second_adapter_dir").asText()), "second");
      names.add("second");
    }
    pm.setActive(names.toArray(String[]::new));
    INDArray unmergedOut = pm.output(in);
    double unmerged = PeftGolden.maxAbsDiff(unmergedOut, PeftGolden.expected(c.path("adapter_logits_key").asText()));

    pm.merge();
    double weights = 0;
    for (var e : iterable(c.path("merged_weight_keys"))) {
      INDArray mine = pm.baseTensor(e.getKey()); // a modules_to_save copy when the adapter has one
      weights = Math.max(weights, PeftGolden.maxAbsDiff(mine, PeftGolden.expected(e.getValue().asText())));
    }
    double merged = PeftGolden.maxAbsDiff(pm.output(in), PeftGolden.expected(c.path("merged_logits_key").asText()));
    pm.unmerge();
    double restores = PeftGolden.maxAbsDiff(pm.output(in), unmergedOut);

    // our writer, then our reader, into a fresh base: the same numbers
    PeftModel fresh = new PeftModel(HfModels.load(root.resolve(c.path("model_dir").asText())), registry);
    for (String n : names) {
      Path dir = scratch.resolve(name).resolve(n);
      PeftAdapters.save(pm, n, dir, c.path("model_dir").asText());
      assertThat(dir.resolve("adapter_config.json")).isRegularFile();
      assertThat(Files.list(dir.getParent()).filter(p -> p.getFileName().toString().endsWith(".tmp"))).isEmpty();
      PeftAdapters.load(fresh, dir, n);
    }
    fresh.setActive(names.toArray(String[]::new));
    double reloaded = PeftGolden.maxAbsDiff(fresh.output(in), unmergedOut);
    return new Diffs(name, base, unmerged, merged, weights, restores, reloaded);
  }

  /** Checks the diffs against {@link #TOLERANCE} (save/load must be exact). */
  public static void assertWithinTolerance(Diffs d) {
    System.out.println("golden " + d);
    assertThat(d.base()).as("%s base logits", d.name()).isLessThanOrEqualTo(TOLERANCE);
    assertThat(d.unmerged()).as("%s unmerged logits", d.name()).isLessThanOrEqualTo(TOLERANCE);
    assertThat(d.merged()).as("%s merged logits", d.name()).isLessThanOrEqualTo(TOLERANCE);
    assertThat(d.mergedWeights()).as("%s merged weights", d.name()).isLessThanOrEqualTo(TOLERANCE);
    assertThat(d.unmergeRestores()).as("%s unmerge", d.name()).isLessThanOrEqualTo(1e-5);
    assertThat(d.savedReloaded()).as("%s saved and reloaded", d.name()).isZero();
  }

  static Iterable<Map.Entry<String, JsonNode>> iterable(JsonNode obj) {
    return obj::fields;
  }
}
