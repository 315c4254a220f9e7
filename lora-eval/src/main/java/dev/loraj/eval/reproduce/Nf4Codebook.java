package dev.loraj.eval.reproduce;

import dev.loraj.core.quant.QuantFormat;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import org.apache.commons.math3.distribution.NormalDistribution;

/**
 * QLoRA (arXiv 2305.14314) section 3 and appendix E: the 4-bit NormalFloat codebook.
 *
 * <p>Two checks. (1) {@link QuantFormat#NF4}'s levels equal the 16 values the paper lists and
 * bitsandbytes returns from {@code get_4bit_type("nf4")} (bit-exact in float32). (2) Those values
 * follow from the paper's construction: quantiles of N(0, 1) for 2^(k-1) = 8 non-negative and 7
 * negative levels, so that zero is exact, normalized to [-1, 1]. As bitsandbytes'
 * {@code create_normal_map} does: the positive side is {@code Phi^-1} at 9 points evenly spaced
 * from {@code delta} down to 0.5 (the last, zero, dropped); the negative side at 8 points likewise
 * (negated, last dropped); then zero; all divided by the largest. {@code delta = 0.9677083} is the
 * mean of {@code 1 - 1/(2*15)} and {@code 1 - 1/(2*16)}, the outermost quantile of the two halves.
 * The grid is computed in float32 as torch's {@code linspace}, the quantiles in double, the
 * normalization in float32. Tolerance 1e-6 (the inverse normal CDF of commons-math3 is not
 * scipy's).
 */
final class Nf4Codebook implements Reproduction {

  /** QLoRA appendix E / bitsandbytes {@code get_4bit_type("nf4")}, index 0..15. */
  static final double[] PAPER = {
      -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453,
      -0.28444138169288635, -0.18477343022823334, -0.09105003625154495, 0.0,
      0.07958029955625534, 0.16093020141124725, 0.24611230194568634, 0.33791524171829224,
      0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0};

  static final double DELTA = 0.9677083;

  @Override
  public String id() {
    return "qlora-nf4-codebook";
  }

  @Override
  public String title() {
    return "QLoRA NF4 codebook: our levels vs the paper/bitsandbytes values and their construction";
  }

  @Override
  public String source() {
    return "QLoRA, arXiv 2305.14314, section 3 (4-bit NormalFloat) and appendix E;"
        + " bitsandbytes get_4bit_type(\"nf4\") / create_normal_map";
  }

  @Override
  public String claim() {
    return "NF4 has 16 levels: normalized N(0,1) quantiles, 8 non-negative and 7 negative, exact"
        + " zero, range [-1, 1]; the paper lists the values.";
  }

  @Override
  public Kind kind() {
    return Kind.EXACT;
  }

  /** The construction described above, index 0..15 ascending. */
  static float[] construct() {
    NormalDistribution n = new NormalDistribution(0, 1);
    float[] pos = linspace((float) DELTA, 0.5f, 9);
    float[] neg = linspace((float) DELTA, 0.5f, 8);
    float[] v = new float[16];
    int k = 0;
    for (int i = 0; i < 8; i++) {
      v[k++] = (float) n.inverseCumulativeProbability(pos[i]);
    }
    for (int i = 0; i < 7; i++) {
      v[k++] = (float) -n.inverseCumulativeProbability(neg[i]);
    }
    v[k] = 0f;
    Arrays.sort(v);
    float max = v[15];
    for (int i = 0; i < 16; i++) {
      v[i] = v[i] / max;
    }
    return v;
  }

  /** torch.linspace in float32: the first half from start, the second from end. */
  static float[] linspace(float start, float end, int steps) {
    float step = (end - start) / (steps - 1);
    float[] out = new float[steps];
    int half = steps / 2;
    for (int i = 0; i < steps; i++) {
      out[i] = i < half ? start + step * i : end - step * (steps - i - 1);
    }
    return out;
  }

  @Override
  public ReproductionResult run(boolean quick) {
    float[] ours = QuantFormat.NF4.levels();
    float[] built = construct();
    List<Check> checks = new ArrayList<>();
    int exactMismatches = 0;
    double maxBuilt = 0;
    double maxOurs = 0;
    for (int i = 0; i < 16; i++) {
      if (ours.length != 16 || ours[i] != (float) PAPER[i]) {
        exactMismatches++;
      }
      maxOurs = Math.max(maxOurs, ours.length == 16 ? Math.abs(ours[i] - PAPER[i]) : 1);
      maxBuilt = Math.max(maxBuilt, Math.abs(built[i] - PAPER[i]));
    }
    checks.add(Check.of("QuantFormat.NF4 levels vs the listed values", "16 values (appendix E)",
        String.format(Locale.ROOT, "%d of 16 bit-identical in float32, max |diff| %.2e",
            16 - exactMismatches, maxOurs),
        "bit-identical (float32)", exactMismatches == 0, ""));
    checks.add(Check.of("paper's construction (N(0,1) quantiles, 8 + 7 + zero) vs the listed values",
        "16 values (appendix E)", String.format(Locale.ROOT, "max |diff| %.2e", maxBuilt), "<= 1e-6",
        maxBuilt <= 1e-6, "grid as bitsandbytes create_normal_map, delta = 0.9677083"));
    boolean zero = built[7] == 0f && built[0] == -1f && built[15] == 1f;
    checks.add(Check.of("exact zero and range", "zero exact, [-1, 1]",
        String.format(Locale.ROOT, "q_7 = %s, q_0 = %s, q_15 = %s", built[7], built[0], built[15]),
        "exact", zero, ""));
    return ReproductionResult.of(this, quick,
        "Compare QuantFormat.NF4.levels() with the published values; rebuild the codebook from"
            + " N(0,1) quantiles (commons-math3) and compare.",
        checks);
  }
}
