package dev.loraj.variants.peft;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.loraj.core.adapter.AdapterConfig;
import dev.loraj.core.adapter.AdapterSpec;
import dev.loraj.core.checkpoint.PeftAdapters;
import dev.loraj.core.golden.PeftGolden;
import dev.loraj.core.model.PeftModel;
import dev.loraj.core.model.Targets;
import dev.loraj.variants.Fixtures;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Every registered variant saved and loaded back into a fresh model over the original base
 * gives the same logits: in PEFT's format where the variant has one (and then the config says
 * what PEFT needs: {@code peft_type}, {@code use_rslora}, {@code init_lora_weights}), otherwise
 * {@link PeftAdapters#save} refuses with the variant and the reason and the own format
 * round-trips.
 */
class PeftRoundTripTest {

  static final ObjectMapper JSON = new ObjectMapper();

  @TempDir static Path scratch;

  static Stream<String> variants() {
    return Fixtures.REGISTRY.names().stream();
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("variants")
  void savesAndLoadsWithTheSameLogits(String variant) throws Exception {
    PeftModel probe = VariantAdapters.adapted(Fixtures.REGISTRY, variant, false);
    Optional<String> noPeft = PeftAdapters.noPeftForm(probe.adapter("default"));
    PeftModel pm = noPeft.isPresent() ? VariantAdapters.adapted(Fixtures.REGISTRY, variant, true) : probe;
    INDArray expected = VariantAdapters.logits(pm);
    Path dir = scratch.resolve(variant);
    if (noPeft.isPresent()) {
      assertThatThrownBy(() -> PeftAdapters.save(pm, "default", dir))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("variant '" + variant + "' has no PEFT form: " + noPeft.get());
      PeftAdapters.saveOwn(pm, "default", dir);
      assertThat(dir.resolve(PeftAdapters.CONFIG_FILE)).doesNotExist();
      JsonNode record = JSON.readTree(dir.resolve(PeftAdapters.VARIANT_FILE).toFile());
      assertThat(record.path("format").asText()).isEqualTo(PeftAdapters.FORMAT_OWN);
      assertThat(record.path("no_peft_form").asText()).isEqualTo(noPeft.get());
    } else {
      PeftAdapters.save(pm, "default", dir);
      JsonNode config = JSON.readTree(dir.resolve(PeftAdapters.CONFIG_FILE).toFile());
      checkPeftConfig(variant, config);
    }
    PeftModel loaded = VariantAdapters.fresh(Fixtures.REGISTRY);
    PeftAdapters.load(loaded, dir, "default");
    double diff = PeftGolden.maxAbsDiff(VariantAdapters.logits(loaded), expected);
    double moved = PeftGolden.maxAbsDiff(expected, VariantAdapters.logits(VariantAdapters.fresh(Fixtures.REGISTRY)));
    assertThat(moved).as("the adapter changes the logits").isGreaterThan(1e-3);
    assertThat(diff).as("max |loaded - saved| logits").isLessThan(1e-5);
    String loadedAs = loaded.adapter("default").factory().name();
    boolean converted = Files.readString(dir.resolve(PeftAdapters.VARIANT_FILE)).contains("\"converted\"");
    assertThat(loadedAs).isEqualTo(converted ? "lora" : variant);
    if (noPeft.isEmpty()) {
      assertThat(Files.list(scratch).filter(p -> p.getFileName().toString().endsWith(".tmp"))).isEmpty();
    }
  }

  /** The own format keeps rank and alpha patterns (sites of another rank load with it). */
  @Test
  void theOwnFormatKeepsRankAndAlphaPatterns() throws Exception {
    PeftModel pm = VariantAdapters.fresh(Fixtures.REGISTRY);
    Targets t = Targets.of("q_proj", "v_proj").withRankPattern(Map.of("v_proj", 2))
        .withAlphaPattern(Map.of("q_proj", 16.0));
    AdapterConfig cfg = Fixtures.REGISTRY.get("delta-lora").defaultConfig().withRankAndAlpha(4, 8);
    pm.addAdapter("default", new AdapterSpec(cfg, t), 3);
    for (var a : pm.adapter("default").sites().values()) {
      a.parameters().values().forEach(p -> p.addi(0.05));
    }
    INDArray expected = VariantAdapters.logits(pm);
    Path dir = scratch.resolve("delta-lora-patterns");
    PeftAdapters.saveOwn(pm, "default", dir);
    PeftModel loaded = VariantAdapters.fresh(Fixtures.REGISTRY);
    PeftAdapters.load(loaded, dir, "default");
    assertThat(loaded.adapter("default").spec().targets().rankPattern()).isEqualTo(Map.of("v_proj", 2));
    assertThat(PeftGolden.maxAbsDiff(VariantAdapters.logits(loaded), expected)).isLessThan(1e-5);
  }

  private static void checkPeftConfig(String variant, JsonNode c) {
    String type = c.path("peft_type").asText();
    switch (variant) {
      case "adalora" -> assertThat(type).isEqualTo("ADALORA");
      case "vera" -> {
        assertThat(type).isEqualTo("VERA");
        assertThat(c.path("save_projection").asBoolean()).isTrue();
        assertThat(c.has("projection_prng_key")).isTrue();
      }
      default -> {
        assertThat(type).isEqualTo("LORA");
        assertThat(c.path("use_rslora").asBoolean()).isEqualTo(variant.equals("rslora"));
        assertThat(c.path("use_dora").asBoolean()).isEqualTo(variant.equals("dora"));
        assertThat(c.path("init_lora_weights").asBoolean()).isTrue();
      }
    }
  }
}
