package dev.loraj.variants.peft;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.loraj.core.adapter.AdapterSpec;
import dev.loraj.core.checkpoint.PeftAdapters;
import dev.loraj.core.model.PeftModel;
import dev.loraj.core.model.Targets;
import dev.loraj.variants.Fixtures;
import dev.loraj.variants.vera.Vera;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What cannot move to or from PEFT is refused with the variant, the field and the reason. */
class PeftFormErrorsTest {

  @TempDir Path tmp;

  private Path copyOfGolden(String adapter) throws Exception {
    Path src = PeftTunerGoldenTest.root().resolve("adapters").resolve(adapter);
    Path dir = tmp.resolve(adapter);
    Files.createDirectories(dir);
    try (var files = Files.list(src)) {
      for (Path f : files.toList()) {
        Files.copy(f, dir.resolve(f.getFileName()));
      }
    }
    return dir;
  }

  @Test
  void veraWithoutSavedProjectionsIsRefusedWithTheReason() throws Exception {
    Path dir = copyOfGolden("llama-vera");
    Path config = dir.resolve(PeftAdapters.CONFIG_FILE);
    Files.writeString(config, Files.readString(config).replace("\"save_projection\": true", "\"save_projection\": false"));
    PeftModel pm = VariantAdapters.fresh(Fixtures.REGISTRY);
    assertThatThrownBy(() -> PeftAdapters.load(pm, dir, "default"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("save_projection = false")
        .hasMessageContaining("projection_prng_key");
    assertThat(pm.adapterNames()).isEmpty();
  }

  @Test
  void aPeftTypeNoVariantReadsNamesTheLoadableOnes() throws Exception {
    Path dir = copyOfGolden("llama-vera");
    Path config = dir.resolve(PeftAdapters.CONFIG_FILE);
    Files.writeString(config, Files.readString(config).replace("\"VERA\"", "\"LOHA\""));
    assertThatThrownBy(() -> PeftAdapters.load(VariantAdapters.fresh(Fixtures.REGISTRY), dir, "default"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("peft_type = \"LOHA\"")
        .hasMessageContaining("ADALORA")
        .hasMessageContaining("VERA");
  }

  @Test
  void veraSitesOfDifferentRanksHaveNoPeftForm() throws Exception {
    PeftModel pm = VariantAdapters.fresh(Fixtures.REGISTRY);
    Targets t = Targets.of("q_proj", "v_proj").withRankPattern(Map.of("v_proj", 2));
    pm.addAdapter("default", new AdapterSpec(Vera.Config.defaults().withRankAndAlpha(4, 1), t), 1);
    assertThatThrownBy(() -> PeftAdapters.save(pm, "default", tmp.resolve("out")))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("variant 'vera'")
        .hasMessageContaining("one r");
    assertThat(tmp.resolve("out")).doesNotExist();
  }

  @Test
  void veraProjectionsChangedByHandAreNotSharedAndAreRefused() throws Exception {
    PeftModel pm = VariantAdapters.adapted(Fixtures.REGISTRY, "vera", false);
    Vera.VeraAdapter v = (Vera.VeraAdapter) pm.adapter("default").sites().get("model.layers.0.self_attn.v_proj");
    v.a().putScalar(0, 0, 0.5f);
    assertThatThrownBy(() -> PeftAdapters.save(pm, "default", tmp.resolve("out")))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("variant 'vera'")
        .hasMessageContaining("model.layers.0.self_attn.v_proj");
  }

  @Test
  void rewritingADirectoryInTheOtherFormatLeavesNoStaleConfig() throws Exception {
    PeftModel pm = VariantAdapters.adapted(Fixtures.REGISTRY, "lora", false);
    Path dir = tmp.resolve("a");
    PeftAdapters.save(pm, "default", dir);
    assertThat(dir.resolve(PeftAdapters.CONFIG_FILE)).exists();
    PeftAdapters.saveOwn(pm, "default", dir);
    assertThat(dir.resolve(PeftAdapters.CONFIG_FILE)).doesNotExist();
    PeftModel loaded = VariantAdapters.fresh(Fixtures.REGISTRY);
    PeftAdapters.load(loaded, dir, "default");
    assertThat(loaded.adapter("default").factory().name()).isEqualTo("lora");
  }
}
