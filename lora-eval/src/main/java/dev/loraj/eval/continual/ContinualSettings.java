package dev.loraj.eval.continual;

import dev.loraj.core.model.Targets;
import dev.loraj.variants.continual.OrthogonalLora;

/**
 * Hyperparameters shared by every method of one comparison.
 *
 * @param steps optimizer steps per task (multi-task: steps x tasks in total)
 * @param batchSize examples per step
 * @param learningRate Adam, constant
 * @param rank r of every LoRA
 * @param alpha scaling numerator
 * @param targets where the LoRAs go (the head is added as modules_to_save)
 * @param lambda1 O-LoRA orthogonality weight (official 0.5)
 * @param lambda2 O-LoRA L2 weight (official 0)
 * @param penalty O-LoRA squared (paper) or absolute (official code)
 * @param amL1 AM-LoRA's L1 weight on the attention gates
 */
public record ContinualSettings(int steps, int batchSize, double learningRate, int rank, double alpha,
    Targets targets, double lambda1, double lambda2, OrthogonalLora.Penalty penalty, double amL1) {

  public ContinualSettings {
    if (steps <= 0 || batchSize <= 0) {
      throw new IllegalArgumentException("steps = " + steps + ", batch_size = " + batchSize + ": both must be > 0");
    }
    penalty = penalty == null ? OrthogonalLora.Penalty.SQUARED : penalty;
    targets = targets == null ? Targets.allLinear() : targets;
  }
}
