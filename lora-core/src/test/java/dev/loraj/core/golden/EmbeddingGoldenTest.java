package dev.loraj.core.golden;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.loraj.core.adapter.AdapterRegistry;
import dev.loraj.core.checkpoint.PeftAdapters;
import dev.loraj.core.io.SafetensorsFile;
import dev.loraj.core.lora.EmbeddingLoraAdapter;
import dev.loraj.core.model.BaseModel;
import dev.loraj.core.model.HfModels;
import dev.loraj.core.model.PeftModel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * PEFT 0.21's adapters on the token-embedding table of a tiny Llama with tied embeddings and
 * grouped-query attention (golden {@code embedding_v1}, made by
 * {@code scripts/golden/make_embedding_golden.py}): the PEFT directories load here (one of them
 * with the frozen table PEFT's {@code save_embedding_layers="auto"} adds) and give PyTorch's
 * logits unmerged and merged within 1e-5. Merged differs from unmerged by up to 5.3 on these
 * cases, because the tied head sees the adapted table only once it is merged, in both
 * implementations.
 */
class EmbeddingGoldenTest {
  private static final double TOLERANCE = 1e-5;
  private static final AdapterRegistry REGISTRY = AdapterRegistry.discover();

  @Test
  void peftEmbeddingAdaptersGiveTorchsLogitsUnmergedAndMerged() throws Exception {
    Path root = Path.of(EmbeddingGoldenTest.class.getResource("/golden/embedding_v1/cases.json").toURI()).getParent();
    JsonNode index = new ObjectMapper().readTree(root.resolve("cases.json").toFile());
    Path modelDir = root.resolve(index.path("model").path("dir").asText());
    List<String> figures = new ArrayList<>();
    try (SafetensorsFile expected = SafetensorsFile.open(root.resolve("expected.safetensors"))) {
      for (JsonNode c : index.path("cases")) {
        String name = c.path("name").asText();
        BaseModel base = HfModels.load(modelDir);
        PeftModel pm = new PeftModel(base, REGISTRY);
        PeftAdapters.load(pm, root.resolve(c.path("adapter_dir").asText()), "default");
        EmbeddingLoraAdapter emb = (EmbeddingLoraAdapter) pm.adapter("default").sites().get("model.embed_tokens");
        assertThat(emb.scaling()).as(name + " scaling").isEqualTo(c.path("embedding_scaling").asDouble());
        assertThat(pm.adapter("default").sites().keySet()).as(name + " adapted modules")
            .containsExactlyInAnyOrderElementsOf(strings(c.path("adapted_modules")));
        Map<String, INDArray> in = Map.of("input_ids", ids(c.path("inputs").path("input_ids")));

        double unmerged = diff(pm.output(in), expected.getFloat(c.path("adapter_logits_key").asText()));
        double unloaded = diff(new PeftModel(pm.mergeAndUnload(), REGISTRY).output(in),
            expected.getFloat(c.path("merged_logits_key").asText()));
        pm.merge();
        double merged = diff(pm.output(in), expected.getFloat(c.path("merged_logits_key").asText()));
        double table = diff(base.weights().get("model.embed_tokens.weight"),
            expected.getFloat(c.path("merged_table_key").asText()));
        figures.add(String.format(java.util.Locale.ROOT, "%s: unmerged %.2e, merged %.2e, merge_and_unload %.2e,"
            + " merged table %.2e", name, unmerged, merged, unloaded, table));
        assertThat(unmerged).as(name + " unmerged logits").isLessThanOrEqualTo(TOLERANCE);
        assertThat(merged).as(name + " merged logits (tied head adapted)").isLessThanOrEqualTo(TOLERANCE);
        assertThat(unloaded).as(name + " merge_and_unload logits").isLessThanOrEqualTo(TOLERANCE);
        assertThat(table).as(name + " merged table").isLessThanOrEqualTo(1e-6);
      }
    }
    figures.forEach(System.out::println);
  }

  @Test
  void theSavedTablesAreWhatTheIndexSays() throws Exception {
    Path root = Path.of(EmbeddingGoldenTest.class.getResource("/golden/embedding_v1/cases.json").toURI()).getParent();
    JsonNode index = new ObjectMapper().readTree(root.resolve("cases.json").toFile());
    for (JsonNode c : index.path("cases")) {
      Path dir = root.resolve(c.path("adapter_dir").asText());
      assertThat(dir.resolve("adapter_config.json")).isRegularFile();
      try (SafetensorsFile f = SafetensorsFile.open(dir.resolve("adapter_model.safetensors"))) {
        assertThat(new java.util.TreeSet<>(f.names())).containsExactlyElementsOf(strings(c.path("saved_tensors")));
      }
    }
    assertThat(Files.readString(root.resolve("SHA256SUMS"))).contains("expected.safetensors");
  }

  private static List<String> strings(JsonNode array) {
    List<String> out = new ArrayList<>();
    array.forEach(n -> out.add(n.asText()));
    return out;
  }

  private static INDArray ids(JsonNode rows) {
    long[][] ids = new long[rows.size()][];
    for (int i = 0; i < ids.length; i++) {
      JsonNode row = rows.get(i);
      ids[i] = new long[row.size()];
      for (int t = 0; t < row.size(); t++) {
        ids[i][t] = row.get(t).asLong();
      }
    }
    return Nd4j.createFromArray(ids);
  }

  private static double diff(INDArray actual, INDArray expected) {
    return actual.reshape(expected.shape()).sub(expected).amaxNumber().doubleValue();
  }
}
