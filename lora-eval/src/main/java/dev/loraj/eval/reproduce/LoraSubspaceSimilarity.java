package dev.loraj.eval.reproduce;

import dev.loraj.core.linalg.Svd;
import dev.loraj.core.lora.LoraConfig;
import java.util.List;
import java.util.Locale;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * LoRA (arXiv 2106.09685) section 7.2, Figure 3: the subspace similarity
 * {@code phi(A_8, A_64, i, j) = ||U_8,i^T U_64,j||_F^2 / min(i, j)} between the top-i right
 * singular vectors of A at r = 8 and the top-j of A at r = 64 is large for i = j = 1 (the top
 * direction is shared, > 0.5) and small for the rest.
 *
 * <p>Here: two LoRA runs (r = 8, r = 64, alpha = r, different adapter seeds) on the synthetic
 * rank-4 task ({@link SyntheticLowRankTask}); quick d = 64, 150 steps; full d = 256, 400 steps.
 * On this task the update has rank 4, so up to 4 directions can be shared (the paper's updates
 * have one dominant direction). Checks: phi(1, 1) > 0.5, and directions 5-8 of A_8 against the
 * top 8 of A_64 below 0.5 (not shared); phi(4, 4) and phi(8, 8) are reported.
 */
final class LoraSubspaceSimilarity implements Reproduction {

  @Override
  public String id() {
    return "lora-subspace-similarity";
  }

  @Override
  public String title() {
    return "LoRA subspace similarity of A at r = 8 and r = 64: the top direction is shared";
  }

  @Override
  public String source() {
    return "LoRA, arXiv 2106.09685, section 7.2, Figure 3";
  }

  @Override
  public String claim() {
    return "phi(A_r=8, A_r=64, i, j) > 0.5 for i = j = 1; directions beyond the top few overlap"
        + " little (phi drops towards the random level).";
  }

  @Override
  public Kind kind() {
    return Kind.MEASURED;
  }

  /** phi for the top-i rows of v1 [k1, n] and top-j rows of v2 [k2, n] (right singular vectors). */
  static double phi(INDArray v1, INDArray v2, int i, int j) {
    INDArray a = v1.get(NDArrayIndex.interval(0, i), NDArrayIndex.all()); // [i, n]
    INDArray b = v2.get(NDArrayIndex.interval(0, j), NDArrayIndex.all()); // [j, n]
    INDArray m = a.mmul(b.transpose()); // [i, n] x [n, j]
    double f = m.norm2Number().doubleValue();
    return f * f / Math.min(i, j);
  }

  @Override
  public ReproductionResult run(boolean quick) {
    int d = quick ? 64 : 256;
    int steps = quick ? 150 : 400;
    SyntheticLowRankTask task = new SyntheticLowRankTask(d, 4, 9);
    INDArray a8 = task.train(LoraConfig.of(8, 8), steps, 1e-2, 3).a(); // [8, d]
    INDArray a64 = task.train(LoraConfig.of(64, 64), steps, 1e-2, 4).a(); // [64, d]
    INDArray v8 = Svd.exact(a8).vt(); // [8, d]
    INDArray v64 = Svd.exact(a64).vt(); // [64, d]
    double p11 = phi(v8, v64, 1, 1);
    double p44 = phi(v8, v64, 4, 4);
    double p88 = phi(v8, v64, 8, 8);
    // directions 5..8 of A_8 (beyond the task's rank 4) against the top 8 of A_64
    INDArray tail = v8.get(NDArrayIndex.interval(4, 8), NDArrayIndex.all()); // [4, d]
    double tailPhi = phi(tail, v64, 4, 8);
    double random = 8.0 / d; // E[phi] of a random 4-dim subspace against a fixed 8-dim one
    String ours = String.format(Locale.ROOT,
        "phi(1,1) = %.3f, phi(4,4) = %.3f, phi(8,8) = %.3f; directions 5-8 vs top 8: %.3f", p11, p44,
        p88, tailPhi);
    return ReproductionResult.of(this, quick,
        "Two LoRA runs on the synthetic rank-4 task (d = " + d + ", " + steps
            + " steps, Adam lr 1e-2, cosine); right singular vectors of A via Svd.exact.",
        List.of(
            Check.of("top direction shared: phi(1, 1)", "> 0.5", ours, "> 0.5", p11 > 0.5,
                "the task has rank 4, so the top 4 directions are shared (phi(4,4))"),
            Check.of("directions beyond the top ones not shared", "small (Figure 3)", ours,
                "directions 5-8 of A_8 vs top 8 of A_64 < 0.5", tailPhi < 0.5,
                String.format(Locale.ROOT, "random level %.3f (8/%d)", random, d))));
  }
}
