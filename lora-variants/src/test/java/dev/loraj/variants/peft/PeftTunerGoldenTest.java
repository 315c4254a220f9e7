package dev.loraj.variants.peft;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.loraj.core.checkpoint.PeftAdapters;
import dev.loraj.core.golden.PeftGolden;
import dev.loraj.core.io.SafetensorsFile;
import dev.loraj.core.model.PeftModel;
import dev.loraj.variants.Fixtures;
import dev.loraj.variants.adalora.AdaLoraAdapter;
import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * AdaLoRA and VeRA directories written by PEFT 0.21 (golden/peft_tuners_v1, made by
 * {@code scripts/golden/make_peft_tuner_golden.py} on golden/peft_v1's tiny Llama): they load
 * through the registry and give PyTorch's logits within 1e-4; our save of the loaded adapter has
 * PEFT's tensor names and shapes and loads back to the same logits.
 */
class PeftTunerGoldenTest {

  static final ObjectMapper JSON = new ObjectMapper();
  static final double TOLERANCE = 1e-4;

  @TempDir static Path scratch;

  static Path root() {
    try {
      return Path.of(PeftTunerGoldenTest.class.getResource("/golden/peft_tuners_v1/cases.json").toURI())
          .getParent();
    } catch (URISyntaxException e) {
      throw new IllegalStateException(e);
    }
  }

  static List<JsonNode> cases() throws IOException {
    List<JsonNode> out = new ArrayList<>();
    JSON.readTree(root().resolve("cases.json").toFile()).path("cases").forEach(out::add);
    return out;
  }

  static Stream<String> caseNames() throws IOException {
    return cases().stream().map(c -> c.path("name").asText());
  }

  static JsonNode caseNamed(String name) throws IOException {
    return cases().stream().filter(c -> c.path("name").asText().equals(name)).findFirst().orElseThrow();
  }

  static INDArray expected(String key) throws IOException {
    try (SafetensorsFile f = SafetensorsFile.open(root().resolve("expected.safetensors"))) {
      return f.getFloat(key);
    }
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("caseNames")
  void loadsWithPyTorchsLogitsAndSavesPeftsLayout(String name) throws Exception {
    JsonNode c = caseNamed(name);
    Path peftDir = root().resolve(c.path("adapter_dir").asText());
    PeftModel pm = VariantAdapters.fresh(Fixtures.REGISTRY);
    PeftAdapters.load(pm, peftDir, "default");
    assertThat(pm.adapter("default").factory().name()).isEqualTo(c.path("kind").asText());
    List<String> adapted = new ArrayList<>(pm.adapter("default").sites().keySet());
    assertThat(adapted).containsExactlyInAnyOrderElementsOf(
        JSON.convertValue(c.path("adapted_modules"), List.class));
    INDArray logits = VariantAdapters.logits(pm);
    double vsTorch = PeftGolden.maxAbsDiff(logits, expected(c.path("logits_key").asText()));
    System.out.printf("%s: max |Java - PyTorch| logits %.2e%n", name, vsTorch);
    assertThat(vsTorch).as("max |Java - PyTorch| logits").isLessThan(TOLERANCE);

    Path ours = scratch.resolve(name);
    PeftAdapters.save(pm, "default", ours);
    assertThat(shapes(ours)).isEqualTo(shapes(peftDir));
    JsonNode theirs = JSON.readTree(peftDir.resolve(PeftAdapters.CONFIG_FILE).toFile());
    JsonNode mine = JSON.readTree(ours.resolve(PeftAdapters.CONFIG_FILE).toFile());
    for (Iterator<String> it = mine.fieldNames(); it.hasNext(); ) {
      String field = it.next();
      if (!field.equals("base_model_name_or_path") && !field.equals("target_modules")) {
        assertThat(theirs.has(field)).as("PEFT writes " + field).isTrue();
        assertThat(mine.get(field)).as(field).isEqualTo(theirs.get(field));
      }
    }
    PeftModel reloaded = VariantAdapters.fresh(Fixtures.REGISTRY);
    PeftAdapters.load(reloaded, ours, "default");
    assertThat(PeftGolden.maxAbsDiff(VariantAdapters.logits(reloaded), logits)).isLessThan(1e-6);
  }

  /** The rank pattern's pruned triplets come back as the mask (E = 0 there). */
  @Test
  void adaloraRankPatternBecomesTheMask() throws Exception {
    PeftModel pm = VariantAdapters.fresh(Fixtures.REGISTRY);
    PeftAdapters.load(pm, root().resolve("adapters/llama-adalora"), "default");
    AdaLoraAdapter q0 = (AdaLoraAdapter) pm.adapter("default").sites().get("model.layers.0.self_attn.q_proj");
    assertThat(q0.mask()).containsExactly(true, false, true, true, false, true);
    assertThat(q0.e().getDouble(1, 0)).isZero();
    AdaLoraAdapter v1 = (AdaLoraAdapter) pm.adapter("default").sites().get("model.layers.1.self_attn.v_proj");
    assertThat(v1.currentRank()).isEqualTo(6);
  }

  private static Map<String, List<Long>> shapes(Path dir) throws IOException {
    Map<String, List<Long>> out = new TreeMap<>();
    try (SafetensorsFile f = SafetensorsFile.open(dir.resolve(PeftAdapters.WEIGHTS_BASE + ".safetensors"))) {
      for (String n : f.names()) {
        List<Long> s = new ArrayList<>();
        for (long d : f.info(n).shape()) {
          s.add(d);
        }
        out.put(n, s);
      }
    }
    return out;
  }
}
