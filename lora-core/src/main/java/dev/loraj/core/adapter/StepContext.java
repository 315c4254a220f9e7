package dev.loraj.core.adapter;

import java.util.Map;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * What {@link Adapter#afterStep} sees: the step just taken (1-based), the planned total, the
 * gradients of this adapter's parameters by key (as used by the update, before clipping), and a
 * handle on the optimizer state of those parameters.
 *
 * @param optimizer resets the optimizer state of this adapter's parameters at this site; the
 *     trainer passes one bound to the adapter and site, a context built by hand (tests calling
 *     {@code afterStep} directly) gets {@link OptimizerState#NONE}
 */
public record StepContext(long step, long totalSteps, Map<String, INDArray> gradients,
    OptimizerState optimizer) {

  public StepContext {
    optimizer = optimizer == null ? OptimizerState.NONE : optimizer;
  }

  /** A context without an optimizer to reset (an adapter driven outside a trainer). */
  public StepContext(long step, long totalSteps, Map<String, INDArray> gradients) {
    this(step, totalSteps, gradients, OptimizerState.NONE);
  }

  /** Shorthand for {@code optimizer().reset(key, keepFraction)}. */
  public void resetOptimizerState(String key, double keepFraction) {
    optimizer.reset(key, keepFraction);
  }

  /**
   * The optimizer state (Adam's first and second moments) of one adapter's parameters at one
   * site, as far as an adapter may touch it. ReLoRA (arXiv 2307.05695, Sec. 3) resets it when it
   * restarts its low-rank factors; the step counter used for Adam's bias correction is global
   * and is not reset (as in PyTorch, where only the moment tensors are pruned).
   */
  @FunctionalInterface
  public interface OptimizerState {

    /** Does nothing: for contexts built outside a trainer. */
    OptimizerState NONE = (key, keepFraction) -> {};

    /**
     * Resets the state of parameter {@code key} ({@code "lora_A.weight"}, ...): with
     * {@code keepFraction = 0} every moment becomes zero; with {@code 0 < keepFraction < 1}
     * each moment tensor keeps only its {@code keepFraction} largest-magnitude entries and the
     * rest become zero (magnitude pruning of the state); {@code 1} keeps everything.
     *
     * @throws IllegalArgumentException if {@code key} is not a trained parameter of this adapter
     *     at this site, or {@code keepFraction} is outside [0, 1]
     */
    void reset(String key, double keepFraction);
  }
}
