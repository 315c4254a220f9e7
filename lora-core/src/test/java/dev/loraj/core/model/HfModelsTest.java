package dev.loraj.core.model;

import dev.loraj.core.testing.ExactArrays;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.loraj.core.adapter.AdapterRegistry;
import dev.loraj.core.adapter.AdapterSpec;
import dev.loraj.core.golden.PeftGolden;
import dev.loraj.core.io.SafetensorsDtype;
import dev.loraj.core.io.SafetensorsFile;
import dev.loraj.core.io.SafetensorsWriter;
import dev.loraj.core.lora.LoraConfig;
import dev.loraj.core.model.llama.LlamaModel;
import dev.loraj.core.train.Objective;
import dev.loraj.core.train.TrainConfig;
import dev.loraj.core.train.TrainResult;
import dev.loraj.core.train.Trainer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/** Loading Hugging Face directories: variants of config and checkpoint, and clear errors. */
class HfModelsTest {

  static final ObjectMapper JSON = new ObjectMapper();
  static final AdapterRegistry REGISTRY = AdapterRegistry.discover();
  static final INDArray IDS = Nd4j.createFromArray(new long[][] {{3, 14, 15, 9, 26, 5, 35}, {1, 2, 3, 4, 5, 6, 7}});

  @TempDir Path tmp;

  static Path golden(String model) {
    return PeftGolden.root().resolve(model);
  }

  static Map<String, INDArray> tensors(Path dir) throws Exception {
    Map<String, INDArray> out = new LinkedHashMap<>();
    try (SafetensorsFile f = SafetensorsFile.open(dir.resolve("model.safetensors"))) {
      for (String n : f.names()) {
        out.put(n, f.getFloat(n));
      }
    }
    return out;
  }

  /** A copy of a golden model dir with its config edited and its tensors rewritten. */
  Path variant(String model, Consumer<ObjectNode> config, Consumer<Map<String, INDArray>> weights,
      SafetensorsDtype dtype) throws Exception {
    Path dir = Files.createTempDirectory(tmp, model);
    ObjectNode c = (ObjectNode) JSON.readTree(golden(model).resolve("config.json").toFile());
    config.accept(c);
    JSON.writeValue(dir.resolve("config.json").toFile(), c);
    Map<String, INDArray> t = tensors(golden(model));
    weights.accept(t);
    SafetensorsWriter.write(dir.resolve("model.safetensors"), t, Map.of("format", "pt"), dtype);
    return dir;
  }

  static INDArray logits(BaseModel m) {
    return new PeftModel(m, REGISTRY).output(Map.of("input_ids", IDS));
  }

  @Test
  void batchesOfSeveralExamplesGiveEachRowItsOwnLogits() throws Exception {
    PeftModel pm = new PeftModel(HfModels.load(golden("llama-tiny")), REGISTRY);
    INDArray both = pm.output(Map.of("input_ids", IDS));
    INDArray first = pm.output(Map.of("input_ids", IDS.getRow(0).reshape(1, 7)));
    assertThat(both.shape()).containsExactly(14, 64);
    assertThat(PeftGolden.maxAbsDiff(both.get(org.nd4j.linalg.indexing.NDArrayIndex.interval(0, 7)), first)).isLessThan(1e-6);
    assertThat(pm.base().rowsPerExample(Map.of("input_ids", IDS))).isEqualTo(7);
  }

  @Test
  void halfPrecisionCheckpointsBecomeFloat() throws Exception {
    Path f16 = variant("llama-tiny", c -> {}, t -> {}, SafetensorsDtype.F16);
    Path bf16 = variant("gpt2-tiny", c -> {}, t -> {}, SafetensorsDtype.BF16);
    BaseModel a = HfModels.load(f16);
    assertThat(a.weights().values()).allMatch(w -> w.dataType() == DataType.FLOAT);
    assertThat(PeftGolden.maxAbsDiff(logits(a), logits(HfModels.load(golden("llama-tiny"))))).isLessThan(5e-2);
    assertThat(PeftGolden.maxAbsDiff(logits(HfModels.load(bf16)), logits(HfModels.load(golden("gpt2-tiny"))))).isLessThan(5e-2);
  }

  @Test
  void shardedCheckpointsLoadLikeOneFile() throws Exception {
    Path dir = Files.createTempDirectory(tmp, "sharded");
    Files.copy(golden("gpt2-tiny").resolve("config.json"), dir.resolve("config.json"));
    Map<String, INDArray> all = tensors(golden("gpt2-tiny"));
    Map<String, INDArray> one = new LinkedHashMap<>();
    Map<String, INDArray> two = new LinkedHashMap<>();
    ObjectNode index = JSON.createObjectNode();
    ObjectNode map = index.putObject("weight_map");
    all.forEach((k, v) -> {
      boolean first = k.contains(".h.0.");
      (first ? one : two).put(k, v);
      map.put(k, first ? "model-00001-of-00002.safetensors" : "model-00002-of-00002.safetensors");
    });
    SafetensorsWriter.write(dir.resolve("model-00001-of-00002.safetensors"), one, Map.of("format", "pt"));
    SafetensorsWriter.write(dir.resolve("model-00002-of-00002.safetensors"), two, Map.of("format", "pt"));
    JSON.writeValue(dir.resolve("model.safetensors.index.json").toFile(), index);
    ExactArrays.assertBitIdentical(logits(HfModels.load(dir)), logits(HfModels.load(golden("gpt2-tiny"))), "logits of the saved copy");
  }

  @Test
  void gpt2CheckpointsWithoutTheTransformerPrefixLoad() throws Exception {
    Path dir = variant("gpt2-tiny", c -> {}, t -> {
      Map<String, INDArray> renamed = new LinkedHashMap<>();
      t.forEach((k, v) -> renamed.put(k.replaceFirst("^transformer\\.", ""), v));
      renamed.put("h.0.attn.bias", Nd4j.ones(DataType.FLOAT, 1, 1, 32, 32)); // old mask buffer
      t.clear();
      t.putAll(renamed);
    }, SafetensorsDtype.F32);
    ExactArrays.assertBitIdentical(logits(HfModels.load(dir)), logits(HfModels.load(golden("gpt2-tiny"))), "logits of the saved copy");
  }

  @Test
  void ropeThetaAtTopLevelAsInTransformers4() throws Exception {
    Path dir = variant("llama-tiny", c -> {
      c.remove("rope_parameters");
      c.put("rope_theta", 10000.0);
    }, t -> {}, SafetensorsDtype.F32);
    ExactArrays.assertBitIdentical(logits(HfModels.load(dir)), logits(HfModels.load(golden("llama-tiny"))), "logits of the saved copy");
    Path yarn = variant("llama-tiny", c -> ((ObjectNode) c.get("rope_parameters")).put("rope_type", "yarn"),
        t -> {}, SafetensorsDtype.F32);
    assertThatThrownBy(() -> HfModels.load(yarn)).hasMessageContaining("rope_type = 'yarn' is not supported");
  }

  @Test
  void llama3RopeScalingReadsTheSameFromBothConfigForms() throws Exception {
    // transformers 5: everything in rope_parameters
    Path v5 = variant("llama-tiny", c -> ((ObjectNode) c.get("rope_parameters")).put("rope_type", "llama3")
        .put("factor", 8.0).put("low_freq_factor", 1.0).put("high_freq_factor", 4.0)
        .put("original_max_position_embeddings", 64), t -> {}, SafetensorsDtype.F32);
    // transformers 4: rope_scaling with the older "type" key, rope_theta at the top level
    Path v4 = variant("llama-tiny", c -> {
      c.remove("rope_parameters");
      c.put("rope_theta", 10000.0);
      c.putObject("rope_scaling").put("type", "llama3").put("factor", 8.0).put("low_freq_factor", 1.0)
          .put("high_freq_factor", 4.0).put("original_max_position_embeddings", 64);
    }, t -> {}, SafetensorsDtype.F32);
    INDArray scaled = logits(HfModels.load(v5));
    ExactArrays.assertBitIdentical(logits(HfModels.load(v4)), scaled, "logits of both forms");
    assertThat(PeftGolden.maxAbsDiff(scaled, logits(HfModels.load(golden("llama-tiny")))))
        .as("the scaling changes the logits").isGreaterThan(1e-4);
  }

  @Test
  void tiedLlamaHasNoHeadSiteAndUsesTheEmbedding() throws Exception {
    Path dir = variant("llama-tiny", c -> c.put("tie_word_embeddings", true),
        t -> t.put("lm_head.weight", t.get("model.embed_tokens.weight").dup()), SafetensorsDtype.F32);
    LlamaModel tied = (LlamaModel) HfModels.load(dir);
    assertThat(tied.linearSites()).noneMatch(s -> s.path().equals("lm_head"));
    assertThat(tied.weights()).doesNotContainKey("lm_head.weight");
    Map<String, INDArray> w = new LinkedHashMap<>(HfModels.load(golden("llama-tiny")).weights());
    w.put("lm_head.weight", w.get("model.embed_tokens.weight"));
    LlamaModel untied = (LlamaModel) HfModels.load(golden("llama-tiny")).withWeights(w);
    assertThat(PeftGolden.maxAbsDiff(logits(tied), logits(untied))).isLessThan(1e-6);
  }

  @Test
  void mistralAndQwen2UseTheLlamaGraph() throws Exception {
    Path mistral = variant("llama-tiny", c -> c.put("model_type", "mistral").put("sliding_window", 4096),
        t -> {}, SafetensorsDtype.F32);
    ExactArrays.assertBitIdentical(logits(HfModels.load(mistral)), logits(HfModels.load(golden("llama-tiny"))), "logits of the Mistral-named copy");
    Path window = variant("llama-tiny", c -> c.put("model_type", "mistral").put("sliding_window", 3),
        t -> {}, SafetensorsDtype.F32);
    assertThat(PeftGolden.maxAbsDiff(logits(HfModels.load(window)), logits(HfModels.load(mistral)))).isPositive();
    // Qwen2 has biases on q/k/v: a Llama checkpoint lacks them
    Path qwen = variant("llama-tiny", c -> c.put("model_type", "qwen2"), t -> {}, SafetensorsDtype.F32);
    assertThatThrownBy(() -> HfModels.load(qwen))
        .hasMessageContaining("no tensor 'model.layers.0.self_attn.q_proj.bias'");
  }

  @Test
  void errorsNameTheKeyAndBothShapes() throws Exception {
    Path unknown = variant("gpt2-tiny", c -> c.put("model_type", "gpt_neox"), t -> {}, SafetensorsDtype.F32);
    assertThatThrownBy(() -> HfModels.load(unknown))
        .hasMessageContaining("model_type 'gpt_neox' is not supported").hasMessageContaining("llama");
    Path missing = variant("gpt2-tiny", c -> {}, t -> t.remove("transformer.ln_f.bias"), SafetensorsDtype.F32);
    assertThatThrownBy(() -> HfModels.load(missing))
        .hasMessageContaining("no tensor 'transformer.ln_f.bias'").hasMessageContaining("[32]");
    Path shape = variant("gpt2-tiny", c -> c.put("n_positions", 64), t -> {}, SafetensorsDtype.F32);
    assertThatThrownBy(() -> HfModels.load(shape))
        .hasMessageContaining("'transformer.wpe.weight' has shape [32, 32]")
        .hasMessageContaining("[64, 32]");
    Path noField = variant("llama-tiny", c -> c.remove("hidden_size"), t -> {}, SafetensorsDtype.F32);
    assertThatThrownBy(() -> HfModels.load(noField)).hasMessageContaining("missing field hidden_size");
    assertThatThrownBy(() -> HfModels.load(tmp)).hasMessageContaining("config.json");
  }

  @Test
  void loraOnGpt2AndLlamaTrains() throws Exception {
    // next-token prediction on one fixed sequence: a few AdamW steps must lower the loss
    for (String model : new String[] {"gpt2-tiny", "llama-tiny"}) {
      PeftModel pm = new PeftModel(HfModels.load(golden(model)), REGISTRY);
      pm.addAdapter("default", new AdapterSpec(LoraConfig.of(4, 8), Targets.allLinear()), 5);
      long[] tokens = {3, 14, 15, 9, 26, 5, 35, 7};
      INDArray ids = Nd4j.createFromArray(java.util.Arrays.copyOf(tokens, 7)).reshape(1, 7);
      INDArray labels = Nd4j.zeros(DataType.FLOAT, 7, 64);
      for (int t = 0; t < 7; t++) {
        labels.putScalar(t, tokens[t + 1], 1f);
      }
      TrainResult r = new Trainer(TrainConfig.of(8, 1e-2, 3)).train(pm, nextToken(),
          (step, micro) -> Map.of("input_ids", ids, "labels", labels));
      assertThat(r.finalLoss()).as(model).isLessThan(r.losses().get(0) * 0.95);
    }
  }

  /**
   * Cross-entropy over [b*s, vocab] logits with one-hot {@code labels}. Written with softmax +
   * log: ND4J M2.1's LogSoftMax fails when SameDiff clones the graph for gradients
   * ("Error setting property ... LogSoftMax"), which Objective.classification() runs into.
   */
  static Objective nextToken() {
    return new Objective() {
      @Override
      public org.nd4j.autodiff.samediff.SDVariable loss(org.nd4j.autodiff.samediff.SameDiff sd,
          org.nd4j.autodiff.samediff.SDVariable logits) {
        var labels = sd.placeHolder("labels", DataType.FLOAT, -1, -1);
        var logp = sd.math().log(sd.nn().softmax(logits, 1).add(1e-12));
        return labels.mul(logp).sum(1).mean().neg();
      }

      @Override
      public java.util.List<String> labelInputs() {
        return java.util.List.of("labels");
      }
    };
  }
}
