package dev.loraj.core.adapter;

import dev.loraj.core.model.LinearSite;
import dev.loraj.core.quant.QuantizedWeight;
import java.util.Optional;
import java.util.SplittableRandom;
import java.util.function.Supplier;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * What {@link AdapterFactory#create} may see and do at one site: the site, the current frozen
 * weight in torch layout [out, in], a random stream derived from the explicit seed, calibration
 * statistics when the task provided them (CorDA), and the right to rewrite the base.
 */
public interface SiteInit {

  String adapterName();

  LinearSite site();

  /**
   * A float copy of the frozen weight as [out, in] (transposed back when stored [in, out];
   * dequantized when the base holds it quantized).
   */
  INDArray baseWeight();

  /**
   * The frozen weight as the base holds it when that is not a float array: quantized (a base
   * quantized while it was loaded) or 16-bit; empty for a dense float weight.
   */
  default Optional<QuantizedWeight> heldBase() {
    return Optional.empty();
  }

  /** Deterministic per (seed, adapter name, site path). */
  SplittableRandom random();

  /** Seed for ND4J random fills, derived like {@link #random()}. */
  long seed();

  /** Inputs seen by this site on calibration batches, as a covariance [in, in], if provided. */
  default Optional<INDArray> inputCovariance() {
    return Optional.empty();
  }

  /**
   * The state that another named adapter of the same model holds at this site, if it adapts
   * this site: read-only access for methods defined relative to earlier adapters (continual
   * learning: O-LoRA's orthogonality to earlier tasks' A, AM-LoRA's mixture over earlier LoRAs).
   * The caller must not modify the returned adapter's arrays; copy what it keeps.
   */
  default Optional<Adapter> otherAdapter(String adapterName) {
    return Optional.empty();
  }

  /** Replaces the frozen base weight with {@code weight} ([out, in]); e.g. PiSSA's residual. */
  void rewriteBase(INDArray weight);

  /**
   * Replaces the frozen base weight with a quantized one ([out, in]; QLoRA, LoftQ, QPiSSA): the
   * dense array leaves the model and the site computes {@code x deq(W)^T} from then on.
   *
   * @throws UnsupportedOperationException where the model cannot hold quantized weights
   */
  default void rewriteBase(QuantizedWeight weight) {
    throw new UnsupportedOperationException("this site cannot hold a quantized base weight");
  }

  /**
   * One object of type {@code type} shared by every site of this one adapter (one
   * {@code addAdapter} call): the first site's call creates it with {@code create}, later sites
   * get the same instance. For state that is global across an adapter's sites, such as
   * AdaLoRA's rank budget; another adapter, or the same name in another model, gets its own.
   * No static state is involved: the object lives as long as the adapters holding it.
   *
   * @throws UnsupportedOperationException if this initialiser cannot share state
   */
  default <T> T shared(Class<T> type, Supplier<? extends T> create) {
    throw new UnsupportedOperationException(
        getClass().getName() + " does not provide per-adapter shared state");
  }
}
