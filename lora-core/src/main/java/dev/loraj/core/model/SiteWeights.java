package dev.loraj.core.model;

import dev.loraj.core.adapter.AdapterSpec;
import dev.loraj.core.quant.QuantizedWeight;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.Set;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reads and writes the frozen weight of a {@link PeftModel}'s linear sites, whichever way the
 * base holds it: a dense array in the stored layout ({@code [in, out]} for fan-in-fan-out sites)
 * or a {@link QuantizedWeight} ({@code [out, in]}). Merging, adapter inits and base rewriting all
 * go through it, so the layout conversion and the requantize-on-write rule live in one place
 * rather than in each caller.
 *
 * <p>Every write marks the model's structure as changed, so cached inference graphs are rebuilt.
 */
final class SiteWeights {

  /** The model's logger: these messages are the model's own. */
  private static final Logger log = LoggerFactory.getLogger(PeftModel.class);

  private final PeftModel model;

  SiteWeights(PeftModel model) {
    this.model = model;
  }

  private BaseModel base() {
    return model.base();
  }

  LinearSite site(String path) {
    for (LinearSite s : base().adapterSites()) {
      if (s.path().equals(path)) {
        return s;
      }
    }
    throw new IllegalArgumentException("no linear site '" + path + "'");
  }

  /** The site's frozen weight as a fresh [out, in] array (dequantized when held quantized). */
  INDArray torchLayout(LinearSite site) {
    QuantizedWeight q = quantized(site);
    if (q != null) { // an embedding table is held as stored, [num_embeddings, dim]
      return site.embedding() ? q.dequantize().transpose().dup('c') : q.dequantize();
    }
    INDArray w = base().weights().get(site.weightName());
    if (w == null) {
      throw new IllegalStateException("linear site " + site.path() + " has no dense weight to merge into");
    }
    return site.fanInFanOut() ? w.transpose().dup('c') : w.dup('c');
  }

  /**
   * Replaces the site's weight with {@code w} [out, in], converted to the stored layout; a site
   * held quantized is requantized with its format, block size and double quantization.
   *
   * @param warnRequantize log a warning when a blockwise format rounds the new weight
   */
  void store(LinearSite site, INDArray w, boolean warnRequantize) {
    model.changed();
    if (w.rank() != 2 || w.size(0) != site.out() || w.size(1) != site.in()) {
      throw new IllegalArgumentException(
          "weight for " + site.path() + " must be [" + site.out() + ", " + site.in() + "], got "
              + Arrays.toString(w.shape()));
    }
    QuantizedWeight q = quantized(site);
    if (q != null) {
      if (warnRequantize && q.format().blockwise()) {
        log.warn("requantizing '{}' ({}): rounding changes the stored weight", site.weightName(), q);
      }
      base().quantizedWeights().put(site.weightName(), heldLike(site, w, q));
      return;
    }
    INDArray stored = site.fanInFanOut() ? w.transpose().dup('c') : w.dup('c');
    base().weights().put(site.weightName(), stored.castTo(DataType.FLOAT));
  }

  /**
   * {@code w} [out, in] held as {@code like} is (format, block size, double quantization) in the
   * site's held layout: [out, in], or as stored for an embedding table ([num_embeddings, dim]).
   */
  static QuantizedWeight heldLike(LinearSite site, INDArray w, QuantizedWeight like) {
    INDArray held = site.embedding() ? w.transpose().dup('c') : w;
    return QuantizedWeight.quantize(held, like.format(), like.blockSize(), like.doubleQuantized());
  }

  /**
   * Holds weight {@code name} as a float32 array again when the base holds it in 16 bits (exact:
   * widening loses nothing), so it can be trained; anything else is left as it is.
   */
  void widenIfHalf(String name) {
    QuantizedWeight q = base().quantizedWeights().get(name);
    if (q == null || q.format().blockwise()) {
      return;
    }
    for (LinearSite s : base().adapterSites()) {
      if (s.weightName().equals(name)) {
        INDArray w = q.dequantize();
        base().weights().put(name, s.heldTransposed() ? w.transpose().dup('c') : w);
        base().quantizedWeights().remove(name);
        model.changed();
        log.info("'{}' is trained: held in float32 instead of {}", name, q.format().json());
        return;
      }
    }
  }

  /**
   * Widens to float32 the 16-bit base weights that {@code spec}'s {@code modules_to_save} name
   * (blockwise-quantized weights cannot be copied and are not candidates).
   */
  void widenModulesToSave(AdapterSpec spec) {
    Set<String> candidates = new LinkedHashSet<>(base().weights().keySet());
    base().quantizedWeights().forEach((w, q) -> {
      if (!q.format().blockwise()) {
        candidates.add(w);
      }
    });
    spec.targets().resolveModulesToSave(candidates).forEach(this::widenIfHalf);
  }

  /** The site's quantized frozen weight ([out, in]), or {@code null} when it is dense. */
  QuantizedWeight quantized(LinearSite site) {
    return base().quantizedWeights().get(site.weightName());
  }

  /** See {@link PeftModel#storeQuantized}. */
  void storeQuantized(LinearSite site, QuantizedWeight q) {
    if (q.rows() != site.out() || q.cols() != site.in()) {
      throw new IllegalArgumentException("quantized weight for " + site.path() + " must be ["
          + site.out() + ", " + site.in() + "], got " + Arrays.toString(q.shape()));
    }
    if (model.trainableBase.contains(site.weightName())) {
      throw new IllegalArgumentException("base weight '" + site.weightName()
          + "' is trainable and cannot be quantized");
    }
    try {
      base().quantizedWeights().put(site.weightName(), q);
    } catch (UnsupportedOperationException e) {
      throw new UnsupportedOperationException("model family '" + base().family() + "' cannot hold"
          + " quantized weights: its BaseModel does not override quantizedWeights()", e);
    }
    base().weights().remove(site.weightName());
    model.changed();
  }

  /** A site's frozen weight as it is stored now: dense or quantized (to restore on failure). */
  record Frozen(INDArray dense, QuantizedWeight quantized) {}

  Frozen frozen(LinearSite site) {
    return new Frozen(base().weights().get(site.weightName()), quantized(site));
  }

  void restoreFrozen(String weightName, Frozen f) {
    model.changed();
    if (f.quantized() != null) {
      base().quantizedWeights().put(weightName, f.quantized());
      base().weights().remove(weightName);
    } else {
      if (base().quantizedWeights().containsKey(weightName)) {
        base().quantizedWeights().remove(weightName);
      }
      base().weights().put(weightName, f.dense());
    }
  }
}
