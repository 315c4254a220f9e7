package dev.loraj.core.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.loraj.core.golden.PeftGolden;
import dev.loraj.core.lora.Lora;
import java.util.List;
import org.junit.jupiter.api.Test;

class ArchitectureCardsTest {

  final Lora lora = new Lora();

  long count(String card, String targets, int rank) throws Exception {
    return ArchitectureCards.trainableParameters(card, List.of(targets.split(",")), rank, lora);
  }

  @Test
  void loraPaperTable2RobertaBase() throws Exception {
    // LoRA paper (arXiv 2106.09685) Table 2: RoBERTa-base LoRA 0.3M (W_q, W_v, r = 8)
    assertThat(count("roberta-base", "query,value", 8)).isEqualTo(294_912);
    // RoBERTa-large LoRA 0.8M
    assertThat(count("roberta-large", "query,value", 8)).isEqualTo(786_432);
    // DeBERTa XXL LoRA 4.7M (r = 16)
    assertThat(count("deberta-v2-xxlarge", "query,value", 16)).isEqualTo(4_718_592);
  }

  @Test
  void loraPaperTable4Gpt3() throws Exception {
    // Table 4: GPT-3 175B, W_q and W_v: 37.7M at r = 8, 4.7M at r = 1 (96 layers, d = 12288)
    assertThat(count("gpt3-175b", "query,value", 8)).isEqualTo(37_748_736);
    assertThat(count("gpt3-175b", "query,value", 1)).isEqualTo(4_718_592);
    // OPT's module names work as PEFT names too
    assertThat(count("gpt3-175b", "q_proj,v_proj", 8)).isEqualTo(37_748_736);
  }

  @Test
  void llama7bMatchesPeftsPrintTrainableParameters() throws Exception {
    // PEFT's print_trainable_parameters for LLaMA-7B, q_proj + v_proj, r = 8: 4,194,304
    assertThat(count("llama-7b", "q_proj,v_proj", 8)).isEqualTo(4_194_304);
    assertThat(count("llama-7b", "query,value", 8)).isEqualTo(4_194_304);
  }

  @Test
  void aliasesResolvePerFamily() {
    List<LinearSite> roberta = ArchitectureCards.card("roberta-base").sites();
    assertThat(ArchitectureCards.targets(List.of("fc2"), roberta).resolve(roberta))
        .extracting(LinearSite::path).hasSize(12).allMatch(p -> p.matches("roberta\\.encoder\\.layer\\.\\d+\\.output\\.dense"));
    List<LinearSite> gpt2 = ArchitectureCards.card("gpt2-medium").sites();
    // q, k, v are one fused c_attn on GPT-2: counted once, r (d + 3d) per layer
    assertThat(ArchitectureCards.targets(List.of("query", "value"), gpt2).resolve(gpt2))
        .extracting(LinearSite::leafName).containsOnly("c_attn").hasSize(24);
    List<LinearSite> llama = ArchitectureCards.card("llama-13b").sites();
    assertThat(ArchitectureCards.targets(List.of("fc1"), llama).resolve(llama))
        .extracting(LinearSite::leafName).containsOnly("gate_proj", "up_proj").hasSize(80);
    assertThat(llama.get(llama.size() - 1)).satisfies(s -> {
      assertThat(s.path()).isEqualTo("lm_head");
      assertThat(s.outputHead()).isTrue();
    });
  }

  @Test
  void allLinearSkipsTheHeadAndRankPatternsApply() {
    List<LinearSite> llama = ArchitectureCards.card("llama-7b").sites();
    long all = ArchitectureCards.trainableParameters(llama, Targets.allLinear(),
        lora.defaultConfig(), lora);
    // per layer: q,k,v,o r(2d) + gate,up r(d+ff) + down r(ff+d); d=4096, ff=11008, r=8
    assertThat(all).isEqualTo(32L * 8 * (4 * 2 * 4096 + 3 * (4096 + 11008)));
    Targets patterned = Targets.of("q_proj").withRankPattern(java.util.Map.of("layers.0.self_attn.q_proj", 2));
    assertThat(ArchitectureCards.trainableParameters(llama, patterned, lora.defaultConfig(), lora))
        .isEqualTo(31L * 8 * 8192 + 2 * 8192);
  }

  @Test
  void modelDirectoriesCountFromTheirConfig() throws Exception {
    String dir = PeftGolden.root().resolve("llama-tiny").toString();
    // 2 layers, q [32 -> 32], v [32 -> 16]: 4 (64 + 48) per layer at r = 4
    assertThat(count(dir, "q_proj,v_proj", 4)).isEqualTo(2 * 4 * (64 + 48));
    // all-linear: q 64, k 48, v 48, o 64, gate 96, up 96, down 96 per layer (r = 4), no lm_head
    assertThat(count(dir, "all-linear", 4)).isEqualTo(2 * 4 * (64 + 48 + 48 + 64 + 96 + 96 + 96));
  }

  @Test
  void unknownCardsAndAliasesAreErrors() {
    assertThatThrownBy(() -> ArchitectureCards.card("gpt5"))
        .hasMessageContaining("no architecture card 'gpt5'").hasMessageContaining("roberta-base");
    assertThatThrownBy(() -> count("nope-not-a-card", "query", 8))
        .hasMessageContaining("neither an architecture card");
    List<LinearSite> mlp = MlpModel.random(List.of(4, 4), MlpModel.Activation.NONE, false, 1).linearSites();
    assertThatThrownBy(() -> ArchitectureCards.targets(List.of("query"), mlp))
        .hasMessageContaining("alias 'query' denotes no module");
  }

  @Test
  void everyCardBuildsItsSites() {
    for (String n : ArchitectureCards.names()) {
      assertThat(ArchitectureCards.card(n).sites()).as(n).isNotEmpty();
    }
    assertThat(ArchitectureCards.names()).contains("roberta-base", "roberta-large",
        "deberta-v2-xxlarge", "deberta-v3-base", "gpt2-medium", "gpt2-large", "gpt3-175b",
        "llama-7b", "llama-13b", "llama-33b", "llama-65b");
  }
}
