package dev.loraj.core.adapter;

import dev.loraj.core.model.LinearSite;
import java.util.Map;
import java.util.Optional;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * One variant's state at one linear site: the single state object of an adapter (no parallel
 * maps of rank/alpha/scaling by name).
 *
 * <p>Order of use:
 * <ol>
 *   <li>created by {@link AdapterFactory#create} (parameters allocated and initialised);</li>
 *   <li>{@link #forward} adds the adapter branch to a graph, every time a graph is built;</li>
 *   <li>{@link #regularization} contributes an optional extra loss term when training;</li>
 *   <li>{@link #afterStep} runs after every optimizer step, with the step's gradients (and may
 *       reset its parameters' optimizer state, see {@link StepContext#optimizer()});</li>
 *   <li>{@link #deltaWeight}, {@link #merge}, {@link #unmerge} for merging and export.</li>
 * </ol>
 * Forward adds no loss, evaluation does not merge, nothing mutates the config.
 */
public interface Adapter {

  LinearSite site();

  AdapterConfig config();

  /**
   * Trainable tensors by their PEFT key suffix ({@code "lora_A.weight"}, ...), in a stable
   * order. The trainer updates these arrays in place.
   */
  Map<String, INDArray> parameters();

  /**
   * Parameters (keys of {@link #parameters()}) whose training gradient is deliberately not the
   * derivative of the training loss, each with the reason. DoRA is the case in point: it treats
   * the weight norm as a constant in backpropagation (arXiv 2402.09353, section 4.3), so the
   * gradients of A and B leave out the norm's dependence on them. The conformance suite's
   * finite-difference check skips these (they must still receive a nonzero gradient); empty for
   * an adapter whose gradients are exact.
   */
  default Map<String, String> surrogateGradients() {
    return Map.of();
  }

  /**
   * Tensors that are part of the adapter's state but not trained (AdaLoRA's rank mask, a frozen
   * A in LoRA-FA). Saved with the adapter, never given to the optimizer.
   */
  default Map<String, INDArray> buffers() {
    return Map.of();
  }

  /**
   * Other arrays the adapter holds between steps that are neither parameters nor buffers (not
   * saved): caches and running statistics, e.g. Delta-LoRA's previous {@code s B A}. Counted as
   * frozen memory ({@code MemoryLedger}); none by default.
   */
  default java.util.Collection<INDArray> heldArrays() {
    return java.util.List.of();
  }

  /**
   * The adapter's contribution to the site's output (added to {@code baseOut}).
   *
   * @param x the site input [n, in]
   * @param baseOut the site's output so far [n, out]: the frozen base output, bias included, plus
   *     the branches of the active adapters applied before this one (PEFT's running result)
   * @return [n, out]
   */
  SDVariable forward(AdapterGraph graph, SDVariable x, SDVariable baseOut);

  /** Extra loss term (scalar), or {@code null} for none. Added only to the training loss. */
  default SDVariable regularization(AdapterGraph graph) {
    return null;
  }

  /** Called after each optimizer step (AdaLoRA's importance and masking live here). */
  default void afterStep(StepContext context) {}

  /**
   * What {@link #afterStep} keeps between steps besides {@link #parameters()} and
   * {@link #buffers()}, so that a training checkpoint resumes the run exactly: arrays that a
   * resumed run restores in place. Empty by default (no hidden state); {@code Optional.empty()}
   * when this adapter's state cannot be captured this way, and a resume is refused.
   */
  default Optional<Map<String, INDArray>> trainingState() {
    return Optional.of(Map.of());
  }

  /** Learning-rate multiplier per parameter key (LoRA+ trains B faster); 1 when absent. */
  default Map<String, Double> learningRateMultipliers() {
    return Map.of();
  }

  /**
   * A factor on the learning rate of all of this adapter's parameters at optimizer step
   * {@code step} (1-based), applied on top of the trainer's schedule and of
   * {@link #learningRateMultipliers()}; read by the trainer before every update. 1 by default;
   * ReLoRA's jagged schedule re-warms the rate after each restart.
   */
  default double learningRateScale(long step) {
    return 1.0;
  }

  /** The dense update this adapter applies, in torch layout [out, in]. */
  INDArray deltaWeight();

  /** The merged weight for {@code weight} ([out, in]); default {@code W + dW}. */
  default INDArray merge(INDArray weight) {
    return weight.add(deltaWeight());
  }

  /**
   * The merged weight for {@code weight} ([out, in]), which may already hold other merged
   * adapters, given {@code unmergedBase}: the site's weight without any merged adapter, the W
   * the unmerged forward pass sees. Default {@link #merge(INDArray)}; DoRA takes its weight norm
   * over {@code unmergedBase}.
   */
  default INDArray merge(INDArray weight, INDArray unmergedBase) {
    return merge(weight);
  }

  /**
   * Inverse of {@link #merge}; default {@code W' - dW}. It must not change the adapter: it is
   * also called on copies, to recover the unmerged base of a site.
   */
  default INDArray unmerge(INDArray merged) {
    return merged.sub(deltaWeight());
  }
}
