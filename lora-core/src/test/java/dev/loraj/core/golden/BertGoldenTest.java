package dev.loraj.core.golden;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import dev.loraj.core.adapter.AdapterRegistry;
import dev.loraj.core.io.SafetensorsFile;
import dev.loraj.core.io.SafetensorsWriter;
import dev.loraj.core.model.HfModels;
import dev.loraj.core.model.LinearSite;
import dev.loraj.core.model.PeftModel;
import dev.loraj.core.model.bert.BertModel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * BERT through {@link HfModels} against transformers + PEFT (golden/peft_v1: bert-tiny, a
 * {@code BertForSequenceClassification} with 3 labels; inputs a 2-row batch whose second row ends
 * in padding): base logits and last hidden state, and the LoRA, rsLoRA and sequence-classification
 * (classifier in {@code modules_to_save}) adapters unmerged and merged, within 1e-4. The DoRA case
 * runs in lora-variants' {@code DoraPeftGoldenTest}.
 */
class BertGoldenTest {

  static final AdapterRegistry REGISTRY = AdapterRegistry.discover();
  static final double TOLERANCE = 1e-4;

  @TempDir static Path scratch;

  static JsonNode model() {
    return PeftGolden.index().path("models").path("bert");
  }

  static Path dir() {
    return PeftGolden.root().resolve(model().path("dir").asText());
  }

  @Test
  void loadsAsSequenceClassifierWithPooler() throws Exception {
    BertModel bert = (BertModel) HfModels.load(dir());
    assertThat(bert.family()).isEqualTo("bert");
    assertThat(bert.pooling()).isEqualTo(BertModel.Pooling.POOLER);
    assertThat(bert.numLabels()).isEqualTo(3);
    assertThat(bert.modulePrefix()).isEqualTo("bert.");
    assertThat(bert.config().layerNormEps()).isEqualTo(1e-12);
    assertThat(bert.linearSites()).extracting(LinearSite::path)
        .contains("bert.encoder.layer.0.attention.self.query", "bert.pooler.dense", "classifier");
    // the sites from config.json alone agree with the loaded model's
    assertThat(HfModels.sites(dir())).isEqualTo(bert.linearSites());
  }

  @Test
  void baseLogitsAndHiddenMatchTransformers() throws Exception {
    JsonNode model = model();
    PeftModel pm = new PeftModel(HfModels.load(dir()), REGISTRY);
    Map<String, INDArray> in = PeftGolden.inputs(model);
    INDArray logits = pm.output(in);
    assertThat(logits.shape()).containsExactly(2L, 3L);
    double diff = PeftGolden.maxAbsDiff(logits, PeftGolden.expected(model.path("base_logits_key").asText()));
    System.out.printf("golden bert base: logits max |diff| = %.3e%n", diff);
    assertThat(diff).isLessThanOrEqualTo(TOLERANCE);
    BertHiddenCheck.assertWithin(BertHiddenCheck.base(model, REGISTRY), TOLERANCE);
  }

  static Stream<String> cases() {
    return PeftGolden.cases().stream()
        .filter(c -> c.path("model").asText().equals("bert"))
        .filter(c -> !c.path("kind").asText().equals("dora"))
        .map(c -> c.path("name").asText());
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("cases")
  void adapterMatchesPeft(String name) throws Exception {
    JsonNode c = PeftGolden.caseNamed(name);
    PeftCaseCheck.assertWithinTolerance(PeftCaseCheck.run(c, REGISTRY, scratch));
    BertHiddenCheck.assertWithin(BertHiddenCheck.run(c, REGISTRY), TOLERANCE);
  }

  /**
   * A checkpoint saved from HF's {@code BertModel} (no {@code bert.} prefix) without pooler or
   * classifier: CLS pooling, the head from config.json's id2label (3 labels, initialised), and
   * the same encoder output as the task model's.
   */
  @Test
  void encoderOnlyCheckpointGetsConfiguredHead() throws Exception {
    Path plain = scratch.resolve("bert-plain");
    Files.createDirectories(plain);
    Files.copy(dir().resolve("config.json"), plain.resolve("config.json"));
    Map<String, INDArray> kept = new LinkedHashMap<>();
    try (SafetensorsFile f = SafetensorsFile.open(dir().resolve("model.safetensors"))) {
      for (String n : f.names()) {
        if (n.startsWith("bert.") && !n.startsWith("bert.pooler.")) {
          kept.put(n.substring("bert.".length()), f.getFloat(n));
        }
      }
    }
    SafetensorsWriter.write(plain.resolve("model.safetensors"), kept, Map.of("format", "pt"));

    BertModel bert = (BertModel) HfModels.load(plain);
    assertThat(bert.modulePrefix()).isEmpty();
    assertThat(bert.pooling()).isEqualTo(BertModel.Pooling.CLS);
    assertThat(bert.numLabels()).isEqualTo(3);
    assertThat(bert.weights().get("classifier.weight").shape()).containsExactly(3L, 32L);
    assertThat(bert.weights().get("classifier.bias").sumNumber().doubleValue()).isZero();

    PeftModel encoder = new PeftModel(bert.withPooling(BertModel.Pooling.NONE, 0), REGISTRY);
    Map<String, INDArray> in = PeftGolden.inputs(model());
    double d = BertHiddenCheck.maskedMaxAbsDiff(encoder.output(in),
        PeftGolden.expected(model().path("base_hidden_key").asText()), in.get(BertModel.ATTENTION_MASK));
    assertThat(d).isLessThanOrEqualTo(TOLERANCE);
  }

  @Test
  void relativePositionEmbeddingsAreRejectedByName() throws Exception {
    Path rel = scratch.resolve("bert-relative");
    Files.createDirectories(rel);
    String config = Files.readString(dir().resolve("config.json"))
        .replace("\"model_type\": \"bert\",", "\"model_type\": \"bert\", \"position_embedding_type\": \"relative_key\",");
    Files.writeString(rel.resolve("config.json"), config);
    Files.copy(dir().resolve("model.safetensors"), rel.resolve("model.safetensors"));
    assertThatThrownBy(() -> HfModels.load(rel))
        .hasMessageContaining("position_embedding_type = 'relative_key'")
        .hasMessageContaining("'absolute'");
  }
}
