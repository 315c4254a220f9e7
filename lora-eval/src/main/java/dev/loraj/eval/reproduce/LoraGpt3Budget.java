package dev.loraj.eval.reproduce;

import java.util.ArrayList;
import java.util.List;

/**
 * LoRA (arXiv 2106.09685) section 7.1, Table 5: the 18M parameter budget on GPT-3 175B, "r = 8 if
 * we adapt one type of attention weights or r = 4 if we adapt two types" (r = 2 for all four).
 * Each setting is {@code 96 * 2 * 12288 * r * (number of types)} = 18,874,368: the seven columns
 * agree with each other exactly; "18M" is that number truncated, not rounded (18.87M).
 */
final class LoraGpt3Budget implements Reproduction {

  @Override
  public String id() {
    return "lora-table5-budget";
  }

  @Override
  public String title() {
    return "LoRA 18M budget on GPT-3 for every attention-weight choice (Table 5)";
  }

  @Override
  public String source() {
    return "LoRA, arXiv 2106.09685, section 7.1, Table 5";
  }

  @Override
  public String claim() {
    return "# of trainable parameters = 18M for W_q, W_k, W_v or W_o at r = 8, two types at r = 4,"
        + " all four at r = 2 (roughly 35MB in FP16).";
  }

  @Override
  public Kind kind() {
    return Kind.EXACT;
  }

  @Override
  public ReproductionResult run(boolean quick) {
    record Setting(List<String> types, int rank) {}
    List<Setting> settings = List.of(new Setting(List.of("query"), 8), new Setting(List.of("key"), 8),
        new Setting(List.of("value"), 8), new Setting(List.of("output"), 8),
        new Setting(List.of("query", "key"), 4), new Setting(List.of("query", "value"), 4),
        new Setting(List.of("query", "key", "value", "output"), 2));
    List<Check> checks = new ArrayList<>();
    long first = -1;
    for (Setting s : settings) {
      long n = Counts.lora("gpt3-175b", s.types(), s.rank());
      first = first < 0 ? n : first;
      boolean equal = n == first;
      boolean truncates = (long) Math.floor(n / 1e6) == 18;
      Status st = !equal ? Status.FAIL : truncates && Counts.roundsTo(n, "18") ? Status.PASS
          : truncates ? Status.DIFFERS : Status.FAIL;
      checks.add(new Check(String.join(", ", names(s.types())) + ", r = " + s.rank(), "18M",
          Counts.exact(n), "equal across columns; rounds to 18M (+-0.5M)", st,
          st == Status.DIFFERS ? "all columns equal 18,874,368 = 18.87M: the paper truncates to 18M"
              : ""));
    }
    return ReproductionResult.of(this, quick,
        "r * (in + out) on the gpt3-175b card (96 layers, d = 12288) for each column of Table 5.",
        checks);
  }

  private static List<String> names(List<String> aliases) {
    return aliases.stream().map(a -> switch (a) {
      case "query" -> "W_q";
      case "key" -> "W_k";
      case "value" -> "W_v";
      default -> "W_o";
    }).toList();
  }
}
