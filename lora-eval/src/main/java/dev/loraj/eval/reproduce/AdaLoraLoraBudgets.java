package dev.loraj.eval.reproduce;

import java.util.ArrayList;
import java.util.List;

/**
 * AdaLoRA (arXiv 2303.10512) Table 1, DeBERTaV3-base on GLUE: the parameter budgets of the LoRA
 * baseline, which adapts all six weight matrices of every layer (W_q, W_k, W_v, W_o, W_f1, W_f2).
 * Per layer {@code r * (4 * 2d + 2 * (d + 4d))} with d = 768, 12 layers: 165,888 r.
 *
 * <p>The AdaLoRA rows of the same table (1.27M, 0.32M) are the budgets AdaLoRA ends with after
 * pruning singular values; they depend on the learned rank allocation and are not a closed form,
 * so they are not recomputed here.
 */
final class AdaLoraLoraBudgets implements Reproduction {

  static final List<String> ALL_SIX = List.of("query", "key", "value", "output", "fc1", "fc2");

  @Override
  public String id() {
    return "adalora-table1-lora-budgets";
  }

  @Override
  public String title() {
    return "AdaLoRA Table 1: LoRA parameter budgets on DeBERTaV3-base";
  }

  @Override
  public String source() {
    return "AdaLoRA, arXiv 2303.10512, Table 1 (# Params column, LoRA rows)";
  }

  @Override
  public String claim() {
    return "LoRA on all weight matrices of DeBERTaV3-base: 1.33M at r = 8, 0.33M at r = 2.";
  }

  @Override
  public Kind kind() {
    return Kind.EXACT;
  }

  @Override
  public ReproductionResult run(boolean quick) {
    List<Check> checks = new ArrayList<>();
    for (Object[] row : new Object[][] {{8, "1.33"}, {2, "0.33"}}) {
      int r = (Integer) row[0];
      String printed = (String) row[1];
      long n = Counts.lora("deberta-v3-base", ALL_SIX, r);
      checks.add(Check.of("LoRA r = " + r + ", W_q W_k W_v W_o W_f1 W_f2", printed + "M",
          Counts.exact(n), Counts.roundingTolerance(printed), Counts.roundsTo(n, printed), ""));
    }
    return ReproductionResult.of(this, quick,
        "r * (in + out) over all six linear layers of the 12 layers of the deberta-v3-base card;"
            + " the classifier head is not counted.",
        checks);
  }
}
