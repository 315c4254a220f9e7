package dev.loraj.variants.adalora;

import dev.loraj.core.adapter.StepContext;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * AdaLoRA's global rank budget over every site of one adapter (arXiv 2303.10512, section 3.3;
 * schedule and masking as in the reference code QingruZhang/AdaLoRA and PEFT's
 * {@code RankAllocator}).
 *
 * <p><b>Why one object per adapter, and how it is found.</b> The budget is a total over all
 * sites, but {@link AdaLoraAdapter#afterStep} is called once per site. {@link AdaLora#create}
 * obtains this allocator through {@code SiteInit.shared(RankAllocator.class, ...)}: the first
 * site of an {@code addAdapter} call creates it and every later site of the same call gets the
 * same instance, so each adapter (and the same adapter name in another model) has its own, and
 * there is no static or factory-held state. Every created site registers here, so by the time
 * training starts the allocator knows its sites.
 *
 * <p><b>When it acts.</b> Each site's {@code afterStep} updates that site's importance scores
 * and reports the step; when the last registered site has reported step t, the allocator runs
 * the schedule for t over all sites together. The trainer calls {@code afterStep} on every site
 * of a trained adapter in every step; a site reporting step t+1 (or t twice) before all have
 * reported t is an error, because a partial report would silently skip allocations (PEFT issues
 * #1327, #1801 are the same failure in another form: a forgotten {@code update_and_allocate}).
 *
 * <p><b>Schedule</b> ({@link Schedule#at}), with b0 = sum of initial ranks and bT = sum of
 * target ranks: {@code t <= tinit}: b0, no mask; {@code t > T - tfinal}: bT, mask; otherwise
 * {@code int((b0 - bT) (1 - (t - tinit)/(T - tfinal - tinit))^3 + bT)}, mask when
 * {@code t % deltaT == 0}. Importance is updated while {@code t < T - tfinal}; at
 * {@code t == T - tfinal} the mask is computed at bT one last time, fixed and the scores reset;
 * later steps re-apply the fixed mask. A step number lower than the previous one (a new run)
 * restarts the schedule with the scores kept.
 *
 * <p><b>Mask</b>: with k = b0 - budget, the triplets whose score is {@code <=} the k-th
 * smallest score over all sites get E = 0 (ties may prune more than k, as in the reference).
 */
public final class RankAllocator {

  private final List<AdaLoraAdapter> sites = new ArrayList<>();
  private final Set<AdaLoraAdapter> reported = Collections.newSetFromMap(new IdentityHashMap<>());
  private AdaLoraConfig schedule;
  private long pendingStep = -1;
  private long lastStep;
  private boolean fixed;
  private int budget;
  private int allocations;

  /** One step of the budget schedule: the total rank budget and whether to mask now. */
  public record Budget(int budget, boolean mask) {}

  /**
   * The budget schedule of PEFT's {@code RankAllocator.budget_schedule} and the reference code.
   *
   * @param initial b0, the sum of initial ranks over sites
   * @param target bT, the sum of target ranks over sites
   */
  public record Schedule(int initial, int target, long tinit, long tfinal, long totalSteps, int deltaT) {

    public Budget at(long step) {
      if (step <= tinit) {
        return new Budget(initial, false);
      }
      if (step > totalSteps - tfinal) {
        return new Budget(target, true);
      }
      double mul = 1 - (double) (step - tinit) / (totalSteps - tfinal - tinit);
      int b = (int) ((initial - target) * mul * mul * mul + target); // Python int(): toward zero
      return new Budget(b, step % deltaT == 0);
    }
  }

  RankAllocator() {}

  synchronized void register(AdaLoraAdapter site) {
    if (schedule == null) {
      schedule = site.config();
    } else if (!schedule.sameSchedule(site.config())) {
      throw new IllegalArgumentException(
          "AdaLoRA site '" + site.site().path() + "' has schedule " + site.config()
              + " but the adapter's other sites have " + schedule
              + "; only rank, alpha and target_r may differ per site");
    }
    sites.add(site);
    budget = initialBudget();
  }

  /** Number of sites sharing this budget. */
  public synchronized int siteCount() {
    return sites.size();
  }

  /** b0: the sum of initial ranks (PEFT's {@code init_bgt}). */
  public synchronized int initialBudget() {
    return sites.stream().mapToInt(AdaLoraAdapter::rank).sum();
  }

  /** bT: the sum of target ranks ({@code target_r * #sites} when no site's rank is lower). */
  public synchronized int targetBudget() {
    return sites.stream().mapToInt(s -> s.config().targetR()).sum();
  }

  public synchronized Schedule schedule() {
    return new Schedule(initialBudget(), targetBudget(), schedule.tinit(), schedule.tfinal(),
        schedule.totalSteps(), schedule.deltaT());
  }

  /** The budget of the last completed step (b0 before training). */
  public synchronized int currentBudget() {
    return budget;
  }

  /** How many times a mask was computed from scores. */
  public synchronized int allocations() {
    return allocations;
  }

  /** Whether the pattern has been fixed (step {@code T - tfinal} was reached). */
  public synchronized boolean fixed() {
    return fixed;
  }

  /** Rank kept by the current mask, per module path, in model order. */
  public synchronized Map<String, Integer> rankPattern() {
    Map<String, Integer> m = new LinkedHashMap<>();
    sites.forEach(s -> m.put(s.site().path(), s.currentRank()));
    return m;
  }

  /**
   * Every site as plain LoRA weights ({@link AdaLoraAdapter#toLora}), per module path in model
   * order; sites whose delta is zero are left out (a rank-0 LoRA does not exist).
   */
  public synchronized Map<String, AdaLoraAdapter.LoraWeights> exportAsLora() {
    Map<String, AdaLoraAdapter.LoraWeights> m = new LinkedHashMap<>();
    sites.forEach(s -> s.toLora().ifPresent(w -> m.put(s.site().path(), w)));
    return m;
  }

  synchronized void report(AdaLoraAdapter site, StepContext ctx) {
    long step = ctx.step();
    if (!reported.isEmpty() && step != pendingStep) {
      throw new IllegalStateException(
          "AdaLoRA: site '" + site.site().path() + "' reported step " + step + " while "
              + missing() + " have not reported step " + pendingStep
              + "; afterStep must run on every site of the adapter in every step");
    }
    if (!reported.add(site)) {
      throw new IllegalStateException(
          "AdaLoRA: site '" + site.site().path() + "' reported step " + step + " twice");
    }
    pendingStep = step;
    if (step < schedule.totalSteps() - schedule.tfinal()) {
      site.updateImportance(ctx.gradients(), schedule.beta1(), schedule.beta2());
    }
    if (reported.size() == sites.size()) {
      reported.clear();
      allocate(step);
    }
  }

  private List<String> missing() {
    return sites.stream().filter(s -> !reported.contains(s)).map(s -> s.site().path()).toList();
  }

  private void allocate(long step) {
    long fixAt = schedule.totalSteps() - schedule.tfinal();
    if (step < lastStep) {
      fixed = false; // a new run: the schedule starts again
    }
    lastStep = step;
    if (step < fixAt) {
      fixed = false;
      Budget b = schedule().at(step);
      budget = b.budget();
      if (b.mask()) {
        maskToBudget(b.budget());
      }
    } else if (!fixed) {
      budget = targetBudget();
      maskToBudget(budget);
      fixed = true;
      sites.forEach(AdaLoraAdapter::resetImportance);
    } else {
      budget = targetBudget();
      sites.forEach(AdaLoraAdapter::applyMask);
    }
  }

  /** Prunes the k = b0 - budget lowest-scoring triplets over all sites (ties: all at the threshold). */
  private void maskToBudget(int target) {
    allocations++;
    int k = initialBudget() - target;
    List<double[]> scores = sites.stream().map(AdaLoraAdapter::tripletScores).toList();
    double threshold = Double.NEGATIVE_INFINITY; // k <= 0: keep every triplet
    if (k > 0) {
      double[] all = scores.stream().flatMapToDouble(Arrays::stream).sorted().toArray();
      threshold = all[Math.min(k, all.length) - 1]; // torch.kthvalue: k-th smallest, 1-based
    }
    for (int s = 0; s < sites.size(); s++) {
      double[] sc = scores.get(s);
      boolean[] keep = new boolean[sc.length];
      for (int i = 0; i < sc.length; i++) {
        keep[i] = sc[i] > threshold;
      }
      sites.get(s).setMask(keep);
    }
  }
}
