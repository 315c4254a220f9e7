package dev.loraj.core.train;

/** Observes training: progress bars, loss curves, checkpoints. */
public interface TrainListener {

  /** After optimizer step {@code step} (1-based) was applied. */
  default void onStep(long step, long totalSteps, double loss, double learningRate, double stepMillis) {}

  /**
   * After the last step, while the session still holds its arrays (its replay plan, optimizer
   * state): the moment to take a {@code MemoryLedger} of the training run.
   */
  default void onFinish(Trainer.Session session) {}
}
