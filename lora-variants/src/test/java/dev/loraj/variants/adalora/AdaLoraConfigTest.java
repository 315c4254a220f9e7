package dev.loraj.variants.adalora;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.loraj.core.adapter.AdapterRegistry;
import dev.loraj.core.adapter.ConfigCodec;
import dev.loraj.variants.adalora.AdaLoraConfig.OrthReg;
import org.junit.jupiter.api.Test;

/** Validation errors name the field, the value and what is accepted (PEFT's AdaLoRA checks and more). */
class AdaLoraConfigTest {

  static AdaLoraConfig cfg(int rank, int target, long total, long tinit, long tfinal, int deltaT) {
    return AdaLoraConfig.of(rank, target, total, tinit, tfinal, deltaT);
  }

  @Test
  void validConfigs() {
    assertThat(AdaLoraConfig.defaults().rank()).isEqualTo(12);
    assertThat(AdaLoraConfig.defaults().targetR()).isEqualTo(8);
    assertThat(cfg(8, 8, 10, 0, 0, 1).scaling()).isEqualTo(1.0);
    assertThat(cfg(4, 4, 10, 0, 9, 1).tfinal()).isEqualTo(9); // one budgeting step left
  }

  @Test
  void totalStepsRequired() {
    assertThatThrownBy(() -> cfg(8, 4, 0, 0, 0, 1))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("total_steps = 0")
        .hasMessageContaining("> 0");
    assertThatThrownBy(() -> cfg(8, 4, -5, 0, 0, 1)).hasMessageContaining("total_steps = -5");
  }

  @Test
  void scheduleMustLeaveABudgetingPhase() {
    assertThatThrownBy(() -> cfg(8, 4, 100, 50, 50, 1))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("tinit = 50, tfinal = 50, total_steps = 100")
        .hasMessageContaining("tinit < total_steps - tfinal");
    assertThatThrownBy(() -> cfg(8, 4, 100, -1, 0, 1)).hasMessageContaining("tinit = -1");
    assertThatThrownBy(() -> cfg(8, 4, 100, 0, -1, 1)).hasMessageContaining("tfinal = -1");
  }

  @Test
  void ranks() {
    assertThatThrownBy(() -> cfg(4, 8, 100, 0, 0, 1))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("target_r = 8")
        .hasMessageContaining("rank (init_r) = 4");
    assertThatThrownBy(() -> cfg(4, 0, 100, 0, 0, 1)).hasMessageContaining("target_r = 0");
    assertThatThrownBy(() -> cfg(0, 0, 100, 0, 0, 1)).hasMessageContaining("rank = 0");
    // withRankAndAlpha (rank_pattern, the conformance suite) caps target_r at the new rank
    AdaLoraConfig c = AdaLoraConfig.defaults().withRankAndAlpha(4, 8);
    assertThat(c.rank()).isEqualTo(4);
    assertThat(c.targetR()).isEqualTo(4);
  }

  @Test
  void deltaTBetasWeightDropout() {
    assertThatThrownBy(() -> cfg(8, 4, 100, 0, 0, 0)).hasMessageContaining("delta_t = 0")
        .hasMessageContaining(">= 1");
    AdaLoraConfig d = AdaLoraConfig.defaults();
    assertThatThrownBy(() -> d.withBetas(1.0, 0.85)).hasMessageContaining("beta1 = 1.0");
    assertThatThrownBy(() -> d.withBetas(0.85, 0)).hasMessageContaining("beta2 = 0.0");
    assertThatThrownBy(() -> d.withOrthReg(OrthReg.PAPER, -0.1)).hasMessageContaining("orth_reg_weight = -0.1");
    assertThatThrownBy(() -> d.withDropout(1.0)).hasMessageContaining("dropout = 1.0");
    assertThatThrownBy(() -> d.withAlpha(0)).hasMessageContaining("alpha = 0.0");
  }

  @Test
  void jsonNamesAndErrors() throws Exception {
    ConfigCodec codec = new ConfigCodec(AdapterRegistry.discover());
    AdaLoraConfig c = cfg(8, 3, 500, 50, 100, 10).withOrthReg(OrthReg.REFERENCE, 0.1);
    String json = codec.toJson(c);
    assertThat(json).contains("\"target_r\"", "\"delta_t\"", "\"total_steps\"", "\"orth_reg\" : \"reference\"");
    assertThat(codec.fromJson(json)).isEqualTo(c);
    assertThat(codec.fromYaml("type: adalora\nrank: 6\ntarget_r: 2\ntotal_steps: 300\ntinit: 50\n"))
        .isEqualTo(new AdaLoraConfig(6, 2, 8, 0, 300, 50, 200, 1, 0.85, 0.85, 0.1, OrthReg.PAPER));
    assertThatThrownBy(() -> codec.fromYaml("type: adalora\ntotal_steps: 0\n"))
        .hasMessageContaining("total_steps = 0");
    assertThatThrownBy(() -> codec.fromYaml("type: adalora\north_reg: squared\n"))
        .hasMessageContaining("orth_reg = 'squared'");
  }
}
