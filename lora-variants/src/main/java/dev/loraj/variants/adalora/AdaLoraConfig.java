package dev.loraj.variants.adalora;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonValue;
import dev.loraj.core.adapter.AdapterConfig;
import dev.loraj.core.lora.LoraConfig;
import java.util.Locale;

/**
 * AdaLoRA (Zhang et al. 2023, arXiv 2303.10512): an SVD-shaped update {@code B diag(E) A} whose
 * total rank budget shrinks from {@code rank} to {@code target_r} per site on a cubic schedule.
 * Field names follow PEFT's {@code AdaLoraConfig} (snake_case): {@code rank} is PEFT's
 * {@code init_r}, {@code delta_t} its {@code deltaT}, {@code total_steps} its {@code total_step}.
 *
 * @param rank initial rank r of every site (PEFT {@code init_r}; PEFT default 12)
 * @param targetR average final rank per site; the budget is {@code target_r * #sites} (PEFT
 *     default 8). {@link #withRankAndAlpha} caps it at the new rank.
 * @param alpha scaling numerator, {@code s = alpha / rank} fixed for the whole run even as
 *     triplets are pruned (PEFT divides by {@code ranknum + 1e-5}, ranknum = init_r; default 8)
 * @param dropout dropout on the adapter's input; 0 keeps training deterministic
 * @param totalSteps T, the step count the budget schedule is planned for. PEFT has no default
 *     (it is required there); 1000 here so a config without it is still valid, but set it to
 *     the real run length
 * @param tinit warm-up steps with the full budget and no masking (PEFT default 0; 200 here
 *     so the default config of a short test run never prunes, and because the paper's
 *     schedule has a warm-up, section 3.3)
 * @param tfinal last steps with the final, fixed pattern (PEFT default 0; 200 here, the
 *     paper's schedule ends with a fine-tuning phase at the target budget)
 * @param deltaT mask every {@code delta_t} steps during the budget phase (PEFT default 1)
 * @param beta1 EMA coefficient of the sensitivity (paper and PEFT: 0.85)
 * @param beta2 EMA coefficient of the uncertainty (paper and PEFT: 0.85)
 * @param orthRegWeight weight gamma of the orthogonality regularizer; 0 switches it off (PEFT
 *     default 0.5, which PEFT applies to the un-squared mean form; the reference code's scripts
 *     use 0.1, our default). With the squared {@link OrthReg#PAPER} form 0.5 is strong: in
 *     {@code AdaLoraAllocationTest}'s task it slowed fitting several-fold, and 0.1 fit well
 * @param orthReg which form of the regularizer, see {@link OrthReg}
 */
public record AdaLoraConfig(
    int rank,
    int targetR,
    double alpha,
    double dropout,
    long totalSteps,
    long tinit,
    long tfinal,
    int deltaT,
    double beta1,
    double beta2,
    double orthRegWeight,
    OrthReg orthReg)
    implements AdapterConfig {

  /** The form of the orthogonality regularizer R(P, Q) on P = B [out, r] and Q = A [r, in]. */
  public enum OrthReg {
    /**
     * Paper, eq. (4) and (5): {@code gamma * sum over sites of (||P^T P - I||_F^2 +
     * ||Q Q^T - I||_F^2)}.
     */
    PAPER,
    /**
     * Reference code (QingruZhang/AdaLoRA) and PEFT's {@code AdaLoraModel.forward}: {@code gamma
     * * mean over all A and B matrices of the adapter of the un-squared Frobenius norm}.
     */
    REFERENCE;

    @JsonValue
    public String json() {
      return name().toLowerCase(Locale.ROOT);
    }

    @JsonCreator
    public static OrthReg parse(String s) {
      for (OrthReg o : values()) {
        if (o.json().equalsIgnoreCase(s)) {
          return o;
        }
      }
      throw new IllegalArgumentException("orth_reg = '" + s + "': accepted paper, reference");
    }
  }

  public AdaLoraConfig {
    LoraConfig.checkRankAlpha(rank, alpha);
    if (targetR <= 0 || targetR > rank) {
      throw new IllegalArgumentException(
          "target_r = " + targetR + ": must be in [1, rank] with rank (init_r) = " + rank);
    }
    if (!(dropout >= 0 && dropout < 1)) {
      throw new IllegalArgumentException("dropout = " + dropout + ": must be in [0, 1)");
    }
    if (totalSteps <= 0) {
      throw new IllegalArgumentException(
          "total_steps = " + totalSteps + ": AdaLoRA needs the planned number of optimizer steps,"
              + " an integer > 0");
    }
    if (tinit < 0) {
      throw new IllegalArgumentException("tinit = " + tinit + ": must be >= 0");
    }
    if (tfinal < 0) {
      throw new IllegalArgumentException("tfinal = " + tfinal + ": must be >= 0");
    }
    if (tinit >= totalSteps - tfinal) {
      throw new IllegalArgumentException(
          "tinit = " + tinit + ", tfinal = " + tfinal + ", total_steps = " + totalSteps
              + ": no budgeting phase is left; need tinit < total_steps - tfinal (= "
              + (totalSteps - tfinal) + ")");
    }
    if (deltaT < 1) {
      throw new IllegalArgumentException("delta_t = " + deltaT + ": must be an integer >= 1");
    }
    checkBeta("beta1", beta1);
    checkBeta("beta2", beta2);
    if (!(orthRegWeight >= 0) || Double.isInfinite(orthRegWeight)) {
      throw new IllegalArgumentException(
          "orth_reg_weight = " + orthRegWeight + ": must be a finite number >= 0 (0 = off)");
    }
    orthReg = orthReg == null ? OrthReg.PAPER : orthReg;
  }

  private static void checkBeta(String field, double v) {
    if (!(v > 0 && v < 1)) {
      throw new IllegalArgumentException(field + " = " + v + ": must be in (0, 1)");
    }
  }

  /** PEFT's defaults, with the schedule defaults explained on the record's parameters. */
  public static AdaLoraConfig defaults() {
    return new AdaLoraConfig(12, 8, 8, 0.0, 1000, 200, 200, 1, 0.85, 0.85, 0.1, OrthReg.PAPER);
  }

  /** A config for a run of {@code totalSteps} with the given ranks and the default rest. */
  public static AdaLoraConfig of(int initR, int targetR, long totalSteps, long tinit, long tfinal, int deltaT) {
    AdaLoraConfig d = defaults();
    return new AdaLoraConfig(initR, targetR, d.alpha, d.dropout, totalSteps, tinit, tfinal, deltaT,
        d.beta1, d.beta2, d.orthRegWeight, d.orthReg);
  }

  /** Another initial rank and alpha; {@code target_r} is capped at the new rank. */
  @Override
  public AdaLoraConfig withRankAndAlpha(int rank, double alpha) {
    return new AdaLoraConfig(rank, Math.min(targetR, Math.max(rank, 1)), alpha, dropout, totalSteps,
        tinit, tfinal, deltaT, beta1, beta2, orthRegWeight, orthReg);
  }

  public AdaLoraConfig withAlpha(double a) {
    return new AdaLoraConfig(rank, targetR, a, dropout, totalSteps, tinit, tfinal, deltaT, beta1,
        beta2, orthRegWeight, orthReg);
  }

  public AdaLoraConfig withOrthReg(OrthReg form, double weight) {
    return new AdaLoraConfig(rank, targetR, alpha, dropout, totalSteps, tinit, tfinal, deltaT, beta1,
        beta2, weight, form);
  }

  public AdaLoraConfig withBetas(double b1, double b2) {
    return new AdaLoraConfig(rank, targetR, alpha, dropout, totalSteps, tinit, tfinal, deltaT, b1, b2,
        orthRegWeight, orthReg);
  }

  public AdaLoraConfig withDropout(double p) {
    return new AdaLoraConfig(rank, targetR, alpha, p, totalSteps, tinit, tfinal, deltaT, beta1, beta2,
        orthRegWeight, orthReg);
  }

  /** {@code s = alpha / init_r}, constant while triplets are pruned. */
  public double scaling() {
    return alpha / rank;
  }

  /** Whether two site configs share one schedule (they may differ in rank, alpha, target_r). */
  boolean sameSchedule(AdaLoraConfig o) {
    return totalSteps == o.totalSteps && tinit == o.tinit && tfinal == o.tfinal && deltaT == o.deltaT
        && beta1 == o.beta1 && beta2 == o.beta2 && orthRegWeight == o.orthRegWeight
        && orthReg == o.orthReg;
  }
}
