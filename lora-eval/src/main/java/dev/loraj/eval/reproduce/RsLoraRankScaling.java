package dev.loraj.eval.reproduce;

import dev.loraj.core.lora.LoraConfig;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * rsLoRA (arXiv 2312.03732) abstract, sections 3-4, Figure 1: scaling the update by
 * {@code alpha / r} makes gradients collapse as the rank grows, "slowing learning such that LoRA
 * with higher rank has similar performance to LoRA with lower rank"; {@code alpha / sqrt(r)} keeps
 * learning stable, so higher ranks train faster.
 *
 * <p>Here: the synthetic rank-4 task ({@link SyntheticLowRankTask}), alpha = 8, ranks 4, 16, 64
 * (full adds 256), fixed steps and learning rate (Adam); the final loss relative to the first
 * step's loss. Quick d = 64, 60 steps; full d = 256, 200 steps. Checks: (1) with alpha/r the last
 * rank step brings no real gain (loss at the largest rank >= 0.9 x the loss at the rank before);
 * (2) with alpha/sqrt(r) the largest rank ends lower than the smallest; (3) rsLoRA gains more
 * from rank than alpha/r (ratio smallest/largest rank loss).
 */
final class RsLoraRankScaling implements Reproduction {

  static final double ALPHA = 8;
  static final double LR = 2e-3;

  @Override
  public String id() {
    return "rslora-rank-scaling";
  }

  @Override
  public String title() {
    return "rsLoRA: with alpha/r higher ranks stop helping, with alpha/sqrt(r) they learn faster";
  }

  @Override
  public String source() {
    return "rsLoRA, arXiv 2312.03732, sections 3-4, Figure 1";
  }

  @Override
  public String claim() {
    return "alpha/r causes gradient collapse as r grows, so higher ranks perform like lower ones;"
        + " alpha/sqrt(r) keeps learning stable and higher ranks train faster.";
  }

  @Override
  public Kind kind() {
    return Kind.MEASURED;
  }

  @Override
  public ReproductionResult run(boolean quick) {
    int d = quick ? 64 : 256;
    int steps = quick ? 60 : 200;
    List<Integer> ranks = quick ? List.of(4, 16, 64) : List.of(4, 16, 64, 256);
    SyntheticLowRankTask task = new SyntheticLowRankTask(d, 4, 9);
    double[] lora = new double[ranks.size()];
    double[] rs = new double[ranks.size()];
    StringBuilder lo = new StringBuilder();
    StringBuilder rso = new StringBuilder();
    for (int i = 0; i < ranks.size(); i++) {
      int r = ranks.get(i);
      var plain = task.train(LoraConfig.of(r, ALPHA), steps, LR, 3).result();
      var stab = task.train(LoraConfig.of(r, ALPHA).withRslora(true), steps, LR, 3).result();
      lora[i] = plain.finalLoss() / plain.losses().get(0);
      rs[i] = stab.finalLoss() / stab.losses().get(0);
      lo.append(String.format(Locale.ROOT, "%sr=%d %.3g", i == 0 ? "" : ", ", r, lora[i]));
      rso.append(String.format(Locale.ROOT, "%sr=%d %.3g", i == 0 ? "" : ", ", r, rs[i]));
    }
    int last = ranks.size() - 1;
    double gainLora = lora[0] / lora[last];
    double gainRs = rs[0] / rs[last];
    List<Check> checks = new ArrayList<>();
    checks.add(Check.of("alpha/r: final/initial loss vs rank", "no gain from higher rank",
        lo.toString(), "loss at r = " + ranks.get(last) + " >= 0.9 x loss at r = " + ranks.get(last - 1),
        lora[last] >= 0.9 * lora[last - 1], ""));
    checks.add(Check.of("alpha/sqrt(r): final/initial loss vs rank", "higher rank trains faster",
        rso.toString(), "loss at largest r < loss at smallest r", rs[last] < rs[0], ""));
    checks.add(Check.of("gain from rank, alpha/sqrt(r) vs alpha/r", "rsLoRA gains more",
        String.format(Locale.ROOT, "loss(r=%d)/loss(r=%d): rsLoRA %.3g, LoRA %.3g", ranks.get(0),
            ranks.get(last), gainRs, gainLora), "rsLoRA ratio > LoRA ratio", gainRs > gainLora, ""));
    return ReproductionResult.of(this, quick,
        "Synthetic rank-4 task, d = " + d + ", " + steps + " steps, Adam lr " + LR
            + ", alpha = " + (int) ALPHA + "; final loss / first loss per rank.",
        checks);
  }
}
