package dev.loraj.core.lora;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.SplittableRandom;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Merging task tensors of equal shape with weights w_i, as PEFT's {@code utils/merge_utils.py}
 * computes it (the building blocks of {@link Combination}):
 * <ul>
 *   <li>task arithmetic: {@code sum_i w_i t_i};</li>
 *   <li>magnitude pruning: keep the {@code k = floor(density * n)} entries of largest |t| (all
 *       of them when density >= 1), zero the rest;</li>
 *   <li>random pruning (DARE, arXiv 2311.03099): keep each entry with probability density and
 *       divide the kept ones by density, so the expectation is unchanged;</li>
 *   <li>TIES (arXiv 2306.01708): prune each t_i, elect a sign per entry from the pruned, unweighted
 *       tensors ({@link MajoritySign#TOTAL}: the sign of {@code sum_i t_i}; {@link
 *       MajoritySign#FREQUENCY}: the sign of {@code sum_i sign(t_i)}; 0 counts as +), then average
 *       {@code w_i t_i} over the tensors whose entry has the elected sign (disjoint merge,
 *       divided by max(count, 1)).</li>
 * </ul>
 */
public final class TaskArithmetic {
  private TaskArithmetic() {}

  /** How TIES elects the sign of an entry. */
  public enum MajoritySign {
    /** The sign of the sum of the pruned values. */
    TOTAL,
    /** The sign of the sum of their signs (the more frequent sign). */
    FREQUENCY;

    /** PEFT's name: {@code total} or {@code frequency}. */
    public String peftName() {
      return name().toLowerCase(java.util.Locale.ROOT);
    }

    public static MajoritySign parse(String s) {
      for (MajoritySign m : values()) {
        if (m.peftName().equals(s)) {
          return m;
        }
      }
      throw new IllegalArgumentException("majority_sign_method = '" + s + "': accepted are total, frequency");
    }
  }

  /** {@code sum_i w_i t_i}. */
  public static INDArray weightedSum(List<INDArray> tensors, double[] weights) {
    float[][] t = floats(tensors);
    float[] out = new float[t[0].length];
    for (int i = 0; i < t.length; i++) {
      for (int j = 0; j < out.length; j++) {
        out[j] += (float) weights[i] * t[i][j];
      }
    }
    return shaped(out, tensors.get(0));
  }

  /** The tensor with all but its {@code floor(density * n)} largest-magnitude entries zeroed. */
  public static INDArray magnitudePrune(INDArray tensor, double density) {
    checkDensity(density);
    float[] t = flat(tensor);
    if (density >= 1) {
      return shaped(t, tensor);
    }
    int k = (int) (density * t.length);
    Integer[] order = new Integer[t.length];
    Arrays.setAll(order, i -> i);
    Arrays.sort(order, Comparator.comparingDouble(i -> -Math.abs(t[i])));
    float[] out = new float[t.length];
    for (int i = 0; i < k; i++) {
      out[order[i]] = t[order[i]];
    }
    return shaped(out, tensor);
  }

  /**
   * Each entry kept with probability {@code density} (one draw of {@code random} per entry, in
   * row-major order) and, when {@code rescale}, divided by density.
   */
  public static INDArray randomPrune(INDArray tensor, double density, boolean rescale, SplittableRandom random) {
    checkDensity(density);
    float[] t = flat(tensor);
    if (density >= 1) {
      return shaped(t, tensor);
    }
    float[] out = new float[t.length];
    for (int j = 0; j < t.length; j++) {
      if (random.nextDouble() < density) {
        out[j] = rescale ? (float) (t[j] / density) : t[j];
      }
    }
    return shaped(out, tensor);
  }

  /** TIES' sign election and disjoint merge of already pruned tensors. */
  public static INDArray disjointMerge(List<INDArray> pruned, double[] weights, MajoritySign method) {
    float[][] t = floats(pruned);
    int n = t[0].length;
    float[] out = new float[n];
    for (int j = 0; j < n; j++) {
      float magnitude = 0;
      for (float[] ti : t) {
        magnitude += method == MajoritySign.TOTAL ? ti[j] : Math.signum(ti[j]);
      }
      float elected = magnitude >= 0 ? 1f : -1f;
      float sum = 0;
      int count = 0;
      for (int i = 0; i < t.length; i++) {
        if (Math.signum(t[i][j]) == elected) {
          sum += (float) weights[i] * t[i][j];
          count++;
        }
      }
      out[j] = sum / Math.max(count, 1);
    }
    return shaped(out, pruned.get(0));
  }

  /** PEFT's {@code ties}: magnitude pruning, sign election, disjoint merge. */
  public static INDArray ties(List<INDArray> tensors, double[] weights, double density, MajoritySign method) {
    return disjointMerge(tensors.stream().map(t -> magnitudePrune(t, density)).toList(), weights, method);
  }

  /** PEFT's {@code magnitude_prune}: magnitude pruning, then the weighted sum. */
  public static INDArray magnitudePruned(List<INDArray> tensors, double[] weights, double density) {
    return weightedSum(tensors.stream().map(t -> magnitudePrune(t, density)).toList(), weights);
  }

  /** PEFT's {@code dare_linear}: random pruning with rescaling, then the weighted sum. */
  public static INDArray dareLinear(List<INDArray> tensors, double[] weights, double density, SplittableRandom random) {
    return weightedSum(dropAndRescale(tensors, density, random), weights);
  }

  /** PEFT's {@code dare_ties}: random pruning with rescaling, sign election, disjoint merge. */
  public static INDArray dareTies(List<INDArray> tensors, double[] weights, double density, MajoritySign method,
      SplittableRandom random) {
    return disjointMerge(dropAndRescale(tensors, density, random), weights, method);
  }

  private static List<INDArray> dropAndRescale(List<INDArray> tensors, double density, SplittableRandom random) {
    List<INDArray> out = new ArrayList<>();
    for (INDArray t : tensors) {
      out.add(randomPrune(t, density, true, random));
    }
    return out;
  }

  static void checkDensity(double density) {
    if (!(density >= 0)) {
      throw new IllegalArgumentException("density = " + density + ": must be a number >= 0 (the fraction of"
          + " values kept; 1 keeps all)");
    }
  }

  private static float[][] floats(List<INDArray> tensors) {
    float[][] t = new float[tensors.size()][];
    for (int i = 0; i < t.length; i++) {
      if (!Arrays.equals(tensors.get(i).shape(), tensors.get(0).shape())) {
        throw new IllegalArgumentException("task tensors must have one shape: " + Arrays.toString(tensors.get(0).shape())
            + " and " + Arrays.toString(tensors.get(i).shape()));
      }
      t[i] = flat(tensors.get(i));
    }
    return t;
  }

  /** The values in row-major order, as float. */
  private static float[] flat(INDArray t) {
    return t.castTo(DataType.FLOAT).dup('c').reshape(t.length()).toFloatVector();
  }

  private static INDArray shaped(float[] values, INDArray like) {
    return Nd4j.createFromArray(values).reshape('c', like.shape());
  }
}
