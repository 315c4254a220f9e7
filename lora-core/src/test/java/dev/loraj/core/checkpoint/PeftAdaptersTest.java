package dev.loraj.core.checkpoint;

import dev.loraj.core.testing.ExactArrays;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.loraj.core.adapter.AdapterRegistry;
import dev.loraj.core.adapter.AdapterSpec;
import dev.loraj.core.adapter.BiasMode;
import dev.loraj.core.golden.PeftGolden;
import dev.loraj.core.io.SafetensorsFile;
import dev.loraj.core.io.SafetensorsWriter;
import dev.loraj.core.lora.LoraAdapter;
import dev.loraj.core.lora.LoraConfig;
import dev.loraj.core.model.HfModels;
import dev.loraj.core.model.PeftModel;
import dev.loraj.core.model.Targets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/** PEFT adapter directories: what is accepted, what is refused, and that refusals change nothing. */
class PeftAdaptersTest {

  static final ObjectMapper JSON = new ObjectMapper();
  static final AdapterRegistry REGISTRY = AdapterRegistry.discover();
  static final String Q0 = "base_model.model.model.layers.0.self_attn.q_proj.";
  static final Map<String, INDArray> IN = Map.of("input_ids", Nd4j.createFromArray(new long[][] {{3, 14, 15, 9}}));

  @TempDir Path tmp;

  PeftModel llama() throws Exception {
    return new PeftModel(HfModels.load(PeftGolden.root().resolve("llama-tiny")), REGISTRY);
  }

  /** A copy of golden adapter {@code name} with edited config and tensors. */
  Path adapter(String name, Consumer<ObjectNode> config, Consumer<Map<String, INDArray>> tensors) throws Exception {
    Path src = PeftGolden.root().resolve("adapters").resolve(name);
    Path dir = Files.createTempDirectory(tmp, name);
    ObjectNode c = (ObjectNode) JSON.readTree(src.resolve("adapter_config.json").toFile());
    config.accept(c);
    JSON.writeValue(dir.resolve("adapter_config.json").toFile(), c);
    Map<String, INDArray> t = new LinkedHashMap<>();
    try (SafetensorsFile f = SafetensorsFile.open(src.resolve("adapter_model.safetensors"))) {
      for (String n : f.names()) {
        t.put(n, f.getFloat(n));
      }
    }
    tensors.accept(t);
    SafetensorsWriter.write(dir.resolve("adapter_model.safetensors"), t, Map.of("format", "pt"));
    return dir;
  }

  void assertRefusedAndUnchanged(Path dir, String... messageParts) throws Exception {
    PeftModel pm = llama();
    INDArray before = pm.output(IN);
    var thrown = assertThatThrownBy(() -> PeftAdapters.load(pm, dir, "default"));
    for (String m : messageParts) {
      thrown.hasMessageContaining(m);
    }
    assertThat(pm.adapterNames()).isEmpty();
    assertThat(pm.trainableBase()).isEmpty();
    ExactArrays.assertBitIdentical(pm.output(IN), before, "output after a refused load");
  }

  @Test
  void missingTensorIsNamedWithItsShape() throws Exception {
    Path dir = adapter("llama-lora", c -> {}, t -> t.remove(Q0 + "lora_B.weight"));
    assertRefusedAndUnchanged(dir, "no tensor '" + Q0 + "lora_B.weight'", "[32, 4]");
  }

  @Test
  void misshapenTensorNamesBothShapes() throws Exception {
    Path dir = adapter("llama-lora", c -> {}, t -> t.put(Q0 + "lora_A.weight", Nd4j.zeros(DataType.FLOAT, 3, 32)));
    assertRefusedAndUnchanged(dir, Q0 + "lora_A.weight' has shape [3, 32]", "expects [4, 32]");
  }

  @Test
  void extraTensorsAreRefused() throws Exception {
    Path dir = adapter("llama-lora", c -> {}, t -> t.put(Q0 + "lora_B.bias", Nd4j.zeros(DataType.FLOAT, 32)));
    assertRefusedAndUnchanged(dir, "tensors no adapted module takes", Q0 + "lora_B.bias");
  }

  @Test
  void configErrorsNameTheField() throws Exception {
    assertRefusedAndUnchanged(adapter("llama-lora", c -> c.put("peft_type", "PREFIX_TUNING"), t -> {}),
        "peft_type = \"PREFIX_TUNING\"");
    assertRefusedAndUnchanged(adapter("llama-lora", c -> c.put("r", -2), t -> {}), "r = -2");
    assertRefusedAndUnchanged(adapter("llama-lora", c -> c.putNull("target_modules"), t -> {}),
        "target_modules is missing");
    assertRefusedAndUnchanged(adapter("llama-lora", c -> c.putArray("target_modules").add("c_attn"), t -> {}),
        "target_modules entry 'c_attn' matches no linear module");
  }

  @Test
  void doraNeedsTheDoraVariant() throws Exception {
    if (REGISTRY.contains("dora")) {
      return; // lora-variants on the class path: covered by its golden test
    }
    assertRefusedAndUnchanged(PeftGolden.root().resolve("adapters/llama-dora"),
        "use_dora = true needs the 'dora' variant, which is not registered", "lora-variants");
  }

  @Test
  void unknownKeysAreListedOnceNeutralOnesAreNot() throws Exception {
    JsonNode c = JSON.readTree(PeftGolden.root().resolve("adapters/llama-lora/adapter_config.json").toFile());
    ((ObjectNode) c).put("some_future_option", 3).put("use_qalora", true);
    PeftAdapterConfig parsed = PeftAdapterConfig.parse(c, REGISTRY, "test");
    assertThat(parsed.ignoredKeys()).containsExactlyInAnyOrder("some_future_option=3", "use_qalora=true");
    assertThat(parsed.variant()).isEqualTo("lora");
    assertThat(parsed.spec().config()).isEqualTo(LoraConfig.of(4, 8));
  }

  @Test
  void targetFormsRegexAllLinearExcludeAndLayers() throws Exception {
    PeftModel pm = llama();
    Path regex = adapter("llama-lora", c -> c.put("target_modules", ".*\\.(q_proj|v_proj)"), t -> {});
    assertThat(PeftAdapters.load(pm, regex, "a").sites()).hasSize(4);
    Path layer = adapter("llama-lora", c -> c.put("layers_to_transform", 1),
        t -> t.keySet().removeIf(k -> k.contains("layers.0.")));
    assertThat(PeftAdapters.load(pm, layer, "b").sites().keySet())
        .containsExactly("model.layers.1.self_attn.q_proj", "model.layers.1.self_attn.v_proj");
    Path all = adapter("llama-lora", c -> c.put("target_modules", "all-linear").putArray("exclude_modules").add("v_proj"),
        t -> t.keySet().removeIf(k -> k.contains("v_proj")));
    assertThatThrownBy(() -> PeftAdapters.load(pm, all, "c"))
        .hasMessageContaining("has no tensor").hasMessageContaining("k_proj"); // all-linear wants k, o, mlp too
  }

  @Test
  void modulesToSaveAndBiasesRoundTrip() throws Exception {
    PeftModel pm = llama();
    Targets t = Targets.of("q_proj").withModulesToSave("lm_head");
    pm.addAdapter("default", new AdapterSpec(LoraConfig.of(2, 4).withBias(BiasMode.NONE), t), 3);
    ((LoraAdapter) pm.adapter("default").sites().get("model.layers.0.self_attn.q_proj")).b().assign(0.05);
    pm.base().weights().get("lm_head.weight").addi(0.01); // "trained" head
    INDArray trained = pm.output(IN);
    Path dir = tmp.resolve("saved");
    PeftAdapters.save(pm, "default", dir);
    JsonNode cfg = JSON.readTree(dir.resolve("adapter_config.json").toFile());
    assertThat(cfg.get("modules_to_save").toString()).isEqualTo("[\"lm_head\"]");
    assertThat(cfg.get("r").asInt()).isEqualTo(2);
    assertThat(cfg.get("lora_alpha").isIntegralNumber()).isTrue();
    assertThat(cfg.get("task_type").isNull()).isTrue();
    try (SafetensorsFile f = SafetensorsFile.open(dir.resolve("adapter_model.safetensors"))) {
      assertThat(f.metadata()).isEqualTo(Map.of("format", "pt"));
      assertThat(f.names()).contains("base_model.model.lm_head.weight", Q0 + "lora_A.weight");
    }
    PeftModel fresh = llama();
    PeftAdapters.load(fresh, dir, "default");
    assertThat(fresh.trainableBase()).containsExactly("lm_head.weight");
    ExactArrays.assertBitIdentical(fresh.output(IN), trained, "output of the reloaded adapter");

    // the "<module>.modules_to_save.<name>.weight" spelling of other PEFT versions
    Path alt = Files.createTempDirectory(tmp, "alt");
    Files.copy(dir.resolve("adapter_config.json"), alt.resolve("adapter_config.json"));
    Map<String, INDArray> tensors = new LinkedHashMap<>();
    try (SafetensorsFile f = SafetensorsFile.open(dir.resolve("adapter_model.safetensors"))) {
      for (String n : f.names()) {
        tensors.put(n.replace("lm_head.weight", "lm_head.modules_to_save.default.weight"), f.getFloat(n));
      }
    }
    SafetensorsWriter.write(alt.resolve("adapter_model.safetensors"), tensors, Map.of("format", "pt"));
    PeftModel other = llama();
    PeftAdapters.load(other, alt, "default");
    ExactArrays.assertBitIdentical(other.output(IN), trained, "output of the adapter in the other modules_to_save spelling");
  }

  @Test
  void savingIntoAnExistingDirectoryReplacesBothFiles() throws Exception {
    PeftModel pm = llama();
    pm.addAdapter("x", new AdapterSpec(LoraConfig.of(4, 8), Targets.of("v_proj")), 1);
    Path dir = tmp.resolve("out");
    PeftAdapters.save(pm, "x", dir);
    pm.addAdapter("y", new AdapterSpec(LoraConfig.of(2, 8).withRslora(true), Targets.of("o_proj")), 1);
    PeftAdapters.save(pm, "y", dir);
    JsonNode cfg = JSON.readTree(dir.resolve("adapter_config.json").toFile());
    assertThat(cfg.get("use_rslora").asBoolean()).isTrue();
    assertThat(cfg.get("target_modules").toString()).contains("o_proj").doesNotContain("v_proj");
    try (var files = Files.list(tmp)) {
      assertThat(files.map(p -> p.getFileName().toString())).containsExactly("out");
    }
    assertThatThrownBy(() -> PeftAdapters.load(pm, dir, "x")).hasMessageContaining("already exists");
    assertThat(pm.adapterNames()).containsExactly("x", "y");
  }
}
