package dev.loraj.core.train;

/**
 * Optimizer and schedule of one training run: AdamW (Adam from ND4J's updaters plus decoupled
 * weight decay, Loshchilov and Hutter 2019), linear warm-up then constant, linear or cosine decay
 * to zero, gradient clipping by global norm, gradient accumulation.
 *
 * @param steps optimizer steps (each averages {@code accumulation} micro-batches)
 * @param learningRate peak learning rate
 * @param weightDecay decoupled weight decay; 0 as in HF Trainer's default
 * @param warmupSteps linear warm-up from 0
 * @param schedule after warm-up
 * @param maxGradNorm global-norm clipping threshold; 0 disables (HF's default is 1.0)
 * @param accumulation micro-batches per step
 * @param beta1 Adam beta1 (0.9)
 * @param beta2 Adam beta2 (0.999)
 * @param epsilon Adam epsilon (1e-8)
 * @param seed seeds dropout and batch order
 */
public record TrainConfig(
    int steps,
    double learningRate,
    double weightDecay,
    int warmupSteps,
    Schedule schedule,
    double maxGradNorm,
    int accumulation,
    double beta1,
    double beta2,
    double epsilon,
    long seed) {

  /** The learning rate after warm-up: constant, or decayed linearly or along a cosine towards zero at the end. */
  public enum Schedule { CONSTANT, LINEAR, COSINE }

  public TrainConfig {
    if (steps <= 0) {
      throw new IllegalArgumentException("steps = " + steps + ": must be > 0");
    }
    if (!(learningRate > 0)) {
      throw new IllegalArgumentException("learning_rate = " + learningRate + ": must be > 0");
    }
    if (weightDecay < 0) {
      throw new IllegalArgumentException("weight_decay = " + weightDecay + ": must be >= 0");
    }
    if (warmupSteps < 0 || warmupSteps > steps) {
      throw new IllegalArgumentException("warmup_steps = " + warmupSteps + ": must be in [0, steps]");
    }
    if (accumulation <= 0) {
      throw new IllegalArgumentException("accumulation = " + accumulation + ": must be >= 1");
    }
    if (maxGradNorm < 0) {
      throw new IllegalArgumentException("max_grad_norm = " + maxGradNorm + ": must be >= 0 (0 = off)");
    }
    schedule = schedule == null ? Schedule.LINEAR : schedule;
  }

  public static TrainConfig of(int steps, double learningRate, long seed) {
    return new TrainConfig(steps, learningRate, 0.0, 0, Schedule.CONSTANT, 0.0, 1, 0.9, 0.999, 1e-8, seed);
  }

  public TrainConfig withSchedule(Schedule s, int warmup) {
    return new TrainConfig(steps, learningRate, weightDecay, warmup, s, maxGradNorm, accumulation, beta1, beta2, epsilon, seed);
  }

  public TrainConfig withClipping(double norm) {
    return new TrainConfig(steps, learningRate, weightDecay, warmupSteps, schedule, norm, accumulation, beta1, beta2, epsilon, seed);
  }

  public TrainConfig withAccumulation(int k) {
    return new TrainConfig(steps, learningRate, weightDecay, warmupSteps, schedule, maxGradNorm, k, beta1, beta2, epsilon, seed);
  }

  public TrainConfig withWeightDecay(double wd) {
    return new TrainConfig(steps, learningRate, wd, warmupSteps, schedule, maxGradNorm, accumulation, beta1, beta2, epsilon, seed);
  }

  /**
   * Learning rate of 1-based optimizer {@code step}: Hugging Face's
   * {@code get_{constant,linear,cosine}_schedule_with_warmup} evaluated at {@code t = step - 1}
   * (their scheduler steps after the optimizer).
   */
  public double learningRateAt(long step) {
    long t = step - 1;
    if (t < warmupSteps) {
      return learningRate * t / Math.max(1, warmupSteps);
    }
    double progress = (double) (t - warmupSteps) / Math.max(1, steps - warmupSteps);
    return switch (schedule) {
      case CONSTANT -> learningRate;
      case LINEAR -> learningRate * Math.max(0.0, 1 - progress);
      case COSINE -> learningRate * 0.5 * (1 + Math.cos(Math.PI * progress));
    };
  }
}
