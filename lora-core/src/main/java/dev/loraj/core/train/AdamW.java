package dev.loraj.core.train;

import dev.loraj.core.model.PeftModel;
import java.util.Arrays;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.nd4j.linalg.learning.GradientUpdater;
import org.nd4j.linalg.learning.config.Adam;

/**
 * The optimizer of one training session: Adam from ND4J's updaters, one updater and one state
 * array per trainable variable, with decoupled weight decay (AdamW, arXiv 1711.05101: the
 * parameters shrink by {@code lr * weight_decay} before the Adam update, outside the moments).
 * The learning rate is set per variable at every update, so the schedule, the LoRA+ multiplier
 * and an adapter's own scale all reach it; ReLoRA's moment reset works on the same state arrays.
 * The session decides what to update and with which rate, this class how.
 */
final class AdamW {
  private final TrainConfig config;
  private final Map<String, Adam> configs = new HashMap<>();
  private final Map<String, GradientUpdater<?>> updaters = new HashMap<>();
  /** Adam's state per variable, [1, 2n]: first moments then second moments (the updater's views). */
  private final Map<String, INDArray> states = new HashMap<>();
  private long stateBytes;

  AdamW(TrainConfig config, List<PeftModel.TrainableVar> vars) {
    this.config = config;
    for (PeftModel.TrainableVar v : vars) {
      Adam adam = new Adam(config.learningRate() * v.lrMultiplier(), config.beta1(), config.beta2(), config.epsilon());
      long n = v.array().length();
      INDArray state = Nd4j.zeros(DataType.FLOAT, 1, adam.stateSize(n));
      stateBytes += state.length() * 4;
      configs.put(v.varName(), adam);
      updaters.put(v.varName(), adam.instantiate(state, true));
      states.put(v.varName(), state);
    }
  }

  /** Bytes of every variable's moments. */
  long stateBytes() {
    return stateBytes;
  }

  /** The state array of {@code varName} itself (the updater's m and v are views), or null. */
  INDArray state(String varName) {
    return states.get(varName);
  }

  /** Every variable's state array. */
  Collection<INDArray> states() {
    return states.values();
  }

  /**
   * Applies optimizer step {@code step} (1-based) to {@code v}'s array at learning rate
   * {@code lr}; {@code g} is its gradient and is overwritten (it becomes the update).
   */
  void update(PeftModel.TrainableVar v, INDArray g, double lr, long step) {
    configs.get(v.varName()).setLearningRate(lr);
    updaters.get(v.varName()).applyUpdater(g, (int) (step - 1), 0); // g becomes the update
    if (lr == 0) {
      // ND4J's adam_updater op does not honour lr = 0 (measured: a ~3e-8 step per entry);
      // the moments are updated as usual, the parameters must not move
      g.assign(0);
    }
    INDArray p = v.array();
    if (config.weightDecay() > 0) {
      p.muli(1 - lr * config.weightDecay());
    }
    p.subi(g.reshape(p.shape()));
  }

  /**
   * Resets the Adam moments of {@code varName}: all zero for {@code keepFraction = 0};
   * otherwise each moment tensor (m and v separately) keeps its {@code ceil(keepFraction * n)}
   * largest-magnitude entries and the rest become zero (ReLoRA's magnitude pruning). The step
   * counter of Adam's bias correction is global and stays as it is.
   */
  void resetState(String varName, double keepFraction) {
    if (!(keepFraction >= 0 && keepFraction <= 1)) {
      throw new IllegalArgumentException("keep_fraction = " + keepFraction + ": must be in [0, 1]");
    }
    INDArray state = states.get(varName);
    if (keepFraction == 1) {
      return;
    }
    if (keepFraction == 0) {
      state.assign(0); // in place: the updater's m and v are views of this array
      return;
    }
    long n = state.length() / 2;
    for (long half = 0; half < 2; half++) {
      INDArray moments = state.get(NDArrayIndex.point(0),
          NDArrayIndex.interval(half * n, (half + 1) * n));
      float[] abs = moments.toFloatVector();
      int keep = (int) Math.ceil(keepFraction * abs.length);
      for (int i = 0; i < abs.length; i++) {
        abs[i] = Math.abs(abs[i]);
      }
      float[] sorted = abs.clone();
      Arrays.sort(sorted);
      float threshold = sorted[abs.length - keep]; // the keep-th largest magnitude
      float[] values = moments.toFloatVector();
      int kept = 0;
      for (int i = 0; i < values.length; i++) {
        // ties at the threshold: keep the first ones, so exactly `keep` entries survive
        if (abs[i] > threshold || (abs[i] == threshold && kept < keep)) {
          kept++;
        } else {
          values[i] = 0;
        }
      }
      moments.assign(Nd4j.create(values, moments.shape(), 'c'));
    }
  }
}
