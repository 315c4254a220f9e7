package dev.loraj.eval.reproduce;

import dev.loraj.core.adapter.AdapterRegistry;
import dev.loraj.core.adapter.AdapterSpec;
import dev.loraj.core.model.MlpModel;
import dev.loraj.core.model.PeftModel;
import dev.loraj.core.model.Targets;
import dev.loraj.eval.data.MnistSubset;
import dev.loraj.variants.intrinsic.IntrinsicDimension;
import java.util.Arrays;

/**
 * Tries learning rates and budgets of {@link IntrinsicDimensionMnist} outside the report (not a
 * test): {@code IntrinsicDimensionProbe steps lrFull|0 d lr1,lr2,...} prints test accuracies.
 */
public final class IntrinsicDimensionProbe {
  public static void main(String[] args) {
    int steps = Integer.parseInt(args[0]);
    double lrFull = Double.parseDouble(args[1]);
    int d = Integer.parseInt(args[2]);
    double[] lrs = Arrays.stream(args[3].split(",")).mapToDouble(Double::parseDouble).toArray();
    MnistSubset data = MnistSubset.load();
    MnistSubset.Split split = data.defaultSplit();
    AdapterRegistry registry = AdapterRegistry.discover();
    int[] order = IntrinsicDimensionMnist.batchOrder(split.train(), steps * 128, IntrinsicDimensionMnist.DATA_SEED);
    if (lrFull > 0) {
      long t0 = System.nanoTime();
      MlpModel m = IntrinsicDimensionMnist.model();
      PeftModel full = new PeftModel(m, registry);
      full.addTrainableBase(m.weights().keySet());
      IntrinsicDimensionMnist.train(full, data, order, steps, 128, lrFull);
      System.out.printf("full lr %.0e: %.4f (%.1f s)%n", lrFull,
          IntrinsicDimensionMnist.accuracy(full, data, split.test()), (System.nanoTime() - t0) / 1e9);
    }
    for (double lr : lrs) {
      long t0 = System.nanoTime();
      PeftModel pm = new PeftModel(IntrinsicDimensionMnist.model(), registry);
      pm.addAdapter("i", new AdapterSpec(IntrinsicDimension.Config.of(d, IntrinsicDimension.Projection.SPARSE, 0),
          Targets.allLinear()), 1);
      IntrinsicDimensionMnist.train(pm, data, order, steps, 128, lr);
      System.out.printf("d %d lr %.0e: %.4f (%.1f s)%n", d, lr,
          IntrinsicDimensionMnist.accuracy(pm, data, split.test()), (System.nanoTime() - t0) / 1e9);
    }
  }
}
