package dev.loraj.core.train;

/** Observes training: progress bars, loss curves, checkpoints. */
public interface TrainListener {

  /** After optimizer step {@code step} (1-based) was applied. */
  default void onStep(long step, long totalSteps, double loss, double learningRate, double stepMillis) {}
}
