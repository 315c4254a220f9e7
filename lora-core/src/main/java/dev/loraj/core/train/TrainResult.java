package dev.loraj.core.train;

import java.util.List;

/**
 * What a training run produced: the loss of every step (before its update), step wall times,
 * and the size of the optimizer state.
 */
public record TrainResult(List<Double> losses, List<Double> stepMillis, long optimizerStateBytes,
    long trainableParameters) {

  public double finalLoss() {
    return losses.get(losses.size() - 1);
  }

  public double medianStepMillis() {
    if (stepMillis.isEmpty()) {
      return Double.NaN;
    }
    double[] s = stepMillis.stream().mapToDouble(Double::doubleValue).sorted().toArray();
    return s.length % 2 == 1 ? s[s.length / 2] : 0.5 * (s[s.length / 2 - 1] + s[s.length / 2]);
  }
}
