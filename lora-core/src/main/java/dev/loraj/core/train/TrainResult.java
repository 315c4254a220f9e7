package dev.loraj.core.train;

import java.util.List;

/**
 * What a training run produced: the loss of every step (before its update), step wall times,
 * and the size of the optimizer state.
 *
 * @param losses per step, the loss the gradients are of: the objective plus the adapters'
 *     regularization terms
 * @param taskLosses per step, the objective alone (equal to {@code losses} for adapters without
 *     regularization; NaN for the steps a resumed run restored from a checkpoint)
 */
public record TrainResult(List<Double> losses, List<Double> taskLosses, List<Double> stepMillis,
    long optimizerStateBytes, long trainableParameters) {

  public TrainResult {
    losses = List.copyOf(losses);
    taskLosses = List.copyOf(taskLosses);
    stepMillis = List.copyOf(stepMillis);
    if (taskLosses.size() != losses.size()) {
      throw new IllegalArgumentException("taskLosses has " + taskLosses.size() + " steps, losses "
          + losses.size() + ": one of each per step is required");
    }
  }

  /** A result whose steps have no regularization term (task loss = loss). */
  public TrainResult(List<Double> losses, List<Double> stepMillis, long optimizerStateBytes,
      long trainableParameters) {
    this(losses, losses, stepMillis, optimizerStateBytes, trainableParameters);
  }

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
