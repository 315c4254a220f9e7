package dev.loraj.bench.cli;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class MemoryCommandTest {

  @Test
  void printsTheBreakdownOfQloraOnLlama65b() {
    String out = CliTest.run("memory", "--model", "llama-65b", "--variant", "qlora,full", "--rank", "64",
        "--batch", "1", "--seq", "512", "--dtype", "bf16", "--checkpointing");
    assertThat(out).contains("llama-65b, qlora r=64", "frozen weights", "optimizer state", "activations",
        "total", "799,539,200 trainable", "Korthikanti", "NF4 base", "llama-65b, full");
  }

  @Test
  void aListWithQloraAdaptsTheSameLayersInEveryRowByDefault() {
    // qlora's default is all-linear, lora's query,value: together, without --targets, both all-linear
    String together = CliTest.run("memory", "--model", "llama-7b", "--variant", "qlora,lora", "--rank", "8");
    String alone = CliTest.run("memory", "--model", "llama-7b", "--variant", "lora", "--rank", "8");
    assertThat(together).contains("llama-7b, lora r=8").contains("19,988,480 trainable");
    assertThat(alone).doesNotContain("19,988,480 trainable");
  }

  @Test
  void jsonHasOneRowPerVariant() {
    String out = CliTest.run("memory", "--model", "gpt3-175b", "--variant", "lora", "--rank", "4",
        "--targets", "query,value", "--dtype", "fp16", "--json");
    assertThat(out).contains("\"trainable_params\" : 18874368", "\"total_bytes\"", "\"activation_formula\"");
  }
}
