package dev.loraj.eval.reproduce;

import dev.loraj.core.lora.LoraConfig;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * rsLoRA (arXiv 2312.03732) sections 3-4, Figure 1: with the scaling {@code alpha / r}, learning
 * slows as r grows (gradient collapse), so a larger rank does not train better at fixed steps;
 * {@code alpha / sqrt(r)} keeps the learning speed stable across ranks.
 *
 * <p>Here: the synthetic rank-4 task ({@link SyntheticLowRankTask}), alpha = 8, ranks 4, 16, 64
 * (full adds 256), fixed step count and learning rate; the loss after training, relative to the
 * first step's loss. Quick d = 64, 60 steps; full d = 256, 200 steps. Checks: with alpha/r the
 * largest rank ends with a higher loss than the smallest; with alpha/sqrt(r) the largest rank ends
 * no higher than the smallest.
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
    return "rsLoRA: alpha/r slows learning as r grows, alpha/sqrt(r) does not";
  }

  @Override
  public String source() {
    return "rsLoRA, arXiv 2312.03732, sections 3-4, Figure 1";
  }

  @Override
  public String claim() {
    return "With alpha/r, higher ranks learn no faster (gradient collapse); with alpha/sqrt(r),"
        + " higher ranks learn at least as fast, so loss at fixed steps falls with rank.";
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
      lo.append(String.format(Locale.ROOT, "%sr=%d %.3f", i == 0 ? "" : ", ", r, lora[i]));
      rso.append(String.format(Locale.ROOT, "%sr=%d %.3f", i == 0 ? "" : ", ", r, rs[i]));
    }
    int last = ranks.size() - 1;
    List<Check> checks = new ArrayList<>();
    checks.add(Check.of("alpha/r: final/initial loss vs rank", "learning slows as r grows",
        lo.toString(), "loss at largest r > loss at smallest r", lora[last] > lora[0], ""));
    checks.add(Check.of("alpha/sqrt(r): final/initial loss vs rank", "stable or better with r",
        rso.toString(), "loss at largest r <= loss at smallest r", rs[last] <= rs[0], ""));
    return ReproductionResult.of(this, quick,
        "Synthetic rank-4 task, d = " + d + ", " + steps + " steps, Adam lr " + LR
            + ", alpha = " + (int) ALPHA + "; final loss / first loss per rank.",
        checks);
  }
}
