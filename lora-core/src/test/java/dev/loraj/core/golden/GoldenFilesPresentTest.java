package dev.loraj.core.golden;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.offset;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The golden files of {@code golden/peft_v1} (made by PyTorch + transformers + PEFT with
 * {@code scripts/golden/make_peft_golden.py}, see the README beside them) are complete: the index
 * {@code cases.json} parses, every directory and file it names exists, and every tensor key it
 * names is in {@code expected.safetensors} as F32. The tests that match models against these
 * numbers live with the model families.
 */
class GoldenFilesPresentTest {

  private static final String ROOT = "/golden/peft_v1";
  private static final ObjectMapper JSON = new ObjectMapper();

  private static Path root;
  private static JsonNode index;
  private static JsonNode expectedHeader;

  @BeforeAll
  static void load() throws IOException, URISyntaxException {
    URL url = GoldenFilesPresentTest.class.getResource(ROOT + "/cases.json");
    assertThat(url).as("classpath resource %s/cases.json", ROOT).isNotNull();
    root = Path.of(url.toURI()).getParent();
    index = JSON.readTree(root.resolve("cases.json").toFile());
    expectedHeader = safetensorsHeader(root.resolve(index.path("expected_file").asText()));
  }

  @Test
  void indexNamesItsVersionAndGenerator() {
    assertThat(index.path("golden_version").asText()).isEqualTo("peft_v1");
    assertThat(index.path("versions").path("peft").asText()).isNotEmpty();
    assertThat(index.path("versions").path("torch").asText()).isNotEmpty();
    assertThat(index.path("generator").asText()).isEqualTo("scripts/golden/make_peft_golden.py");
  }

  @Test
  void everyModelDirectoryHoldsConfigAndWeights() {
    assertThat(index.path("models").size()).isEqualTo(5);
    for (JsonNode model : iterable(index.path("models"))) {
      Path dir = root.resolve(model.path("dir").asText());
      assertThat(dir.resolve("config.json")).isRegularFile();
      assertThat(dir.resolve("model.safetensors")).isRegularFile();
      assertF32(model.path("base_logits_key").asText());
      assertF32(model.path("base_hidden_key").asText());
    }
  }

  @Test
  void everyCaseReferencesExistingFilesAndTensors() {
    List<String> names = new ArrayList<>();
    for (JsonNode c : iterable(index.path("cases"))) {
      names.add(c.path("name").asText());
      assertThat(root.resolve(c.path("model_dir").asText()).resolve("model.safetensors"))
          .isRegularFile();
      assertAdapterDir(c.path("adapter_dir").asText());
      if (c.has("second_adapter_dir")) {
        assertAdapterDir(c.path("second_adapter_dir").asText());
      }
      assertThat(c.path("inputs").path("input_ids").isArray()).as(c + " input_ids").isTrue();
      assertThat(c.path("adapted_modules").size()).as("%s adapted_modules", c.path("name")).isPositive();
      for (String key : List.of("base_logits_key", "base_hidden_key", "adapter_logits_key",
          "adapter_hidden_key", "merged_logits_key", "merged_hidden_key")) {
        assertF32(c.path(key).asText());
      }
      for (JsonNode key : iterable(c.path("merged_weight_keys"))) {
        assertF32(key.asText());
      }
      assertThat(c.path("merged_weight_keys").size())
          .isGreaterThanOrEqualTo(c.path("adapted_modules").size());
    }
    assertThat(names).doesNotHaveDuplicates()
        .contains("gpt2-lora", "llama-lora", "bert-lora", "llama-dora", "llama-rslora",
            "llama-lora-default-init", "llama-lora-patterns", "llama-lora-all-linear");
  }

  @Test
  void defaultInitCaseRecordsKaimingBoundAndZeroB() {
    JsonNode init = null;
    for (JsonNode c : iterable(index.path("cases"))) {
      if (c.path("kind").asText().equals("lora-default-init")) {
        init = c.path("default_init");
      }
    }
    assertThat(init).as("a case of kind lora-default-init").isNotNull();
    for (JsonNode module : iterable(init.path("modules"))) {
      double bound = module.path("kaiming_uniform_bound").asDouble();
      // PEFT: kaiming_uniform_(a=sqrt(5)) on A [r, in] gives U(-1/sqrt(in), 1/sqrt(in))
      assertThat(bound).isCloseTo(1.0 / Math.sqrt(module.path("in_features").asInt()),
          offset(1e-12));
      assertThat(Math.abs(module.path("a_min").asDouble())).isLessThanOrEqualTo(bound);
      assertThat(module.path("a_max").asDouble()).isLessThanOrEqualTo(bound);
      assertThat(module.path("b_max_abs").asDouble()).isZero();
    }
  }

  private static void assertAdapterDir(String relative) {
    Path dir = root.resolve(relative);
    assertThat(dir.resolve("adapter_config.json")).isRegularFile();
    assertThat(dir.resolve("adapter_model.safetensors")).isRegularFile();
  }

  private static void assertF32(String key) {
    assertThat(key).as("tensor key").isNotEmpty();
    JsonNode entry = expectedHeader.path(key);
    assertThat(entry.isObject()).as("expected.safetensors has key %s", key).isTrue();
    assertThat(entry.path("dtype").asText()).as("dtype of %s", key).isEqualTo("F32");
  }

  /** safetensors: 8-byte little-endian header length, then a JSON header of name to entry. */
  private static JsonNode safetensorsHeader(Path file) throws IOException {
    try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
      ByteBuffer length = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
      channel.read(length, 0);
      long headerBytes = length.flip().getLong();
      assertThat(headerBytes).as("header length of %s", file).isBetween(2L, Files.size(file) - 8);
      ByteBuffer header = ByteBuffer.allocate((int) headerBytes);
      channel.read(header, 8);
      return JSON.readTree(new String(header.array(), StandardCharsets.UTF_8));
    }
  }

  private static Iterable<JsonNode> iterable(JsonNode node) {
    return node::elements;
  }
}
