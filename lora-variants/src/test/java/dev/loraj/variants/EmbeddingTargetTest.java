package dev.loraj.variants;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.loraj.core.adapter.AdapterFactory;
import dev.loraj.core.adapter.AdapterSpec;
import dev.loraj.core.checkpoint.PeftAdapters;
import dev.loraj.core.lora.EmbeddingLoraAdapter;
import dev.loraj.core.lora.Fill;
import dev.loraj.core.lora.LoraConfig;
import dev.loraj.core.model.PeftModel;
import dev.loraj.core.model.Targets;
import dev.loraj.core.model.llama.LlamaModel;
import dev.loraj.core.model.llama.RopeScaling;
import dev.loraj.variants.rslora.RsLora;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Which registered variants adapt a token-embedding table: {@code lora} and {@code rslora} (PEFT's
 * {@code lora_embedding_A/B}, with rsLoRA's {@code alpha / sqrt(r)}); every other variant is
 * refused with a message naming the variant and the table, whether added here or loaded from a
 * PEFT directory.
 */
class EmbeddingTargetTest {

  static final String TABLE = "model.embed_tokens";

  static LlamaModel llama() {
    LlamaModel.Config c = new LlamaModel.Config("llama", 40, 16, 32, 1, 4, 2, 4, 1e-6,
        RopeScaling.unscaled(10000.0), "silu", true, false, false, false, 0);
    return LlamaModel.random(c, 3);
  }

  static Stream<String> refused() {
    return Fixtures.REGISTRY.factories().stream().filter(f -> !f.adaptsEmbeddings()).map(AdapterFactory::name);
  }

  @Test
  void exactlyLoraAndRsloraAdaptEmbeddings() {
    assertThat(Fixtures.REGISTRY.factories().stream().filter(AdapterFactory::adaptsEmbeddings)
        .map(AdapterFactory::name)).containsExactlyInAnyOrder("lora", "rslora");
  }

  @ParameterizedTest(name = "{0} is refused on the embedding table")
  @MethodSource("refused")
  void otherVariantsAreRefusedNamingTheVariantAndTheTable(String variant) {
    PeftModel pm = new PeftModel(llama(), Fixtures.REGISTRY);
    var config = Fixtures.REGISTRY.get(variant).defaultConfig().withRankAndAlpha(4, 8);
    assertThatThrownBy(() -> pm.addAdapter("x", new AdapterSpec(config, Targets.of("embed_tokens", "q_proj")), 1))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("variant '" + variant + "'")
        .hasMessageContaining(TABLE);
    assertThat(pm.adapterNames()).isEmpty();
  }

  @Test
  void rsloraScalesTheTableByAlphaOverSqrtRAndSavesAsPeftsUseRslora(@TempDir Path dir) throws Exception {
    LlamaModel base = llama();
    PeftModel pm = new PeftModel(base, Fixtures.REGISTRY);
    pm.addAdapter("default", new AdapterSpec(RsLora.Config.defaults().withRankAndAlpha(4, 8),
        Targets.of("embed_tokens")), 1);
    EmbeddingLoraAdapter a = (EmbeddingLoraAdapter) pm.adapter("default").sites().get(TABLE);
    assertThat(a.scaling()).isEqualTo(4.0);
    Fill.normal(a.a(), 0, 0.1, new SplittableRandom(2));
    Map<String, INDArray> in = Map.of("input_ids", Nd4j.createFromArray(new long[][] {{1, 7, 39, 0}}));
    INDArray expected = pm.output(in);
    PeftAdapters.save(pm, "default", dir.resolve("a"));
    assertThat(Files.readString(dir.resolve("a/adapter_config.json"))).contains("\"use_rslora\" : true");
    PeftModel loaded = new PeftModel(base, Fixtures.REGISTRY);
    PeftAdapters.load(loaded, dir.resolve("a"), "default");
    assertThat(loaded.adapter("default").factory().name()).isEqualTo("rslora");
    assertThat(Fixtures.maxAbsDiff(loaded.output(in), expected)).isZero();
  }

  @Test
  void aPeftDoraDirectoryOnTheTableIsRefusedOnLoad(@TempDir Path dir) throws Exception {
    LlamaModel base = llama();
    PeftModel pm = new PeftModel(base, Fixtures.REGISTRY);
    pm.addAdapter("default", new AdapterSpec(LoraConfig.of(4, 8), Targets.of("embed_tokens")), 1);
    PeftAdapters.save(pm, "default", dir.resolve("a"));
    Files.delete(dir.resolve("a/" + PeftAdapters.VARIANT_FILE));
    Path config = dir.resolve("a/adapter_config.json");
    Files.writeString(config, Files.readString(config).replace("\"use_dora\" : false", "\"use_dora\" : true"));
    assertThatThrownBy(() -> PeftAdapters.load(new PeftModel(base, Fixtures.REGISTRY), dir.resolve("a"), "d"))
        .hasMessageContaining("variant 'dora'").hasMessageContaining(TABLE);
  }
}
