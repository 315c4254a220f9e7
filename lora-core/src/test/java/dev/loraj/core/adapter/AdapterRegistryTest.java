package dev.loraj.core.adapter;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.loraj.core.lora.Lora;
import java.util.List;
import org.junit.jupiter.api.Test;

class AdapterRegistryTest {

  /** A second factory claiming the name "lora". */
  static final class Impostor implements AdapterFactory<dev.loraj.core.lora.LoraConfig> {
    private final Lora delegate = new Lora();

    @Override public String name() { return "lora"; }
    @Override public String description() { return "impostor"; }
    @Override public Class<dev.loraj.core.lora.LoraConfig> configType() { return delegate.configType(); }
    @Override public dev.loraj.core.lora.LoraConfig defaultConfig() { return delegate.defaultConfig(); }
    @Override public Adapter create(dev.loraj.core.lora.LoraConfig c, SiteInit i) { return delegate.create(c, i); }
    @Override public long trainableParameters(dev.loraj.core.lora.LoraConfig c, dev.loraj.core.model.LinearSite s) {
      return delegate.trainableParameters(c, s);
    }
  }

  @Test
  void discoversLoraThroughServiceLoader() {
    AdapterRegistry r = AdapterRegistry.discover();
    assertThat(r.names()).contains("lora");
    assertThat(r.get("LoRA")).isInstanceOf(Lora.class); // keys are case-insensitive
  }

  @Test
  void duplicateNamesFailNamingBothClasses() {
    assertThatThrownBy(() -> AdapterRegistry.of(List.of(new Lora(), new Impostor())))
        .hasMessageContaining("two adapter factories are registered as 'lora'")
        .hasMessageContaining(Lora.class.getName())
        .hasMessageContaining(Impostor.class.getName());
  }

  @Test
  void unknownNameListsTheRegisteredOnes() {
    assertThatThrownBy(() -> AdapterRegistry.of(List.of(new Lora())).get("dora"))
        .hasMessage("unknown variant 'dora'; did you mean 'lora'?; registered variants: [lora]");
  }
}
