package dev.loraj.core.model;

import dev.loraj.core.adapter.Adapter;
import dev.loraj.core.graph.Graphs;
import dev.loraj.core.model.PeftModel.NamedAdapter;
import dev.loraj.core.quant.QuantizedWeight;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Merging a {@link PeftModel}'s adapters into its base weights and taking them out again, plus
 * the non-mutating {@link PeftModel#mergeAndUnload} export. It owns the merge order, the one piece
 * of state only merging reads: a merge may depend on what was merged before it (several DoRA
 * adapters on one site), so unmerging goes backwards through it.
 *
 * <p>Quantized sites are dequantized, added to and requantized with their own format; the weight
 * each merge replaced is kept on the adapter so {@link #unmergeAll} restores it exactly.
 */
final class AdapterMerge {

  /** The model's logger: these messages are the model's own. */
  private static final Logger log = LoggerFactory.getLogger(PeftModel.class);

  private final PeftModel model;
  private final SiteWeights weights;
  /** Names of the merged adapters, first merged first (unmerging goes backwards). */
  private final List<String> mergeOrder = new ArrayList<>();

  AdapterMerge(PeftModel model, SiteWeights weights) {
    this.model = model;
    this.weights = weights;
  }

  /**
   * Merges the named adapters (the active ones if none is named).
   *
   * @param safe compute every merged weight first and refuse non-finite results
   */
  void merge(String[] names, boolean safe) {
    List<String> which = names.length == 0 ? model.active() : List.of(names);
    for (String n : which) {
      NamedAdapter a = model.adapter(n);
      if (a.merged) {
        log.warn("adapter '{}' is already merged; merging again changes nothing", n);
        continue;
      }
      Map<String, INDArray> mergedWeights = new LinkedHashMap<>();
      // held sites are rounded to their format at once, so the float merges never pile up
      Map<String, QuantizedWeight> mergedHeld = new LinkedHashMap<>();
      Map<String, QuantizedWeight> before = new LinkedHashMap<>();
      for (Adapter ad : a.sites().values()) {
        QuantizedWeight q = weights.quantized(ad.site());
        if (q != null) {
          before.put(ad.site().path(), q);
        }
        INDArray w = weights.torchLayout(ad.site());
        INDArray m = ad.merge(w, unmergedBase(ad.site(), w));
        if (safe && !Graphs.allFinite(m)) {
          throw new IllegalStateException(
              "safe merge of adapter '" + n + "' refused: merged weight of '" + ad.site().path()
                  + "' has non-finite values; the base is unchanged");
        }
        if (q != null) {
          mergedHeld.put(ad.site().path(), SiteWeights.heldLike(ad.site(), m, q));
          if (m != w) {
            w.close();
          }
          m.close();
        } else {
          mergedWeights.put(ad.site().path(), m);
        }
      }
      long blockwise = before.values().stream().filter(q -> q.format().blockwise()).count();
      if (blockwise > 0) {
        log.warn("merging adapter '{}' into {} quantized base weight(s): dequantize, add, requantize;"
            + " rounding makes the merged output differ from the unmerged one (mergeAndUnload()"
            + " exports exact float weights instead)", n, blockwise);
      }
      if (before.size() > blockwise) {
        log.info("merging adapter '{}' into {} 16-bit base weight(s): added in float32, rounded"
            + " to the base's dtype (as PEFT merges into a bfloat16 model)", n,
            before.size() - blockwise);
      }
      EmbeddingSites.warnTiedMerge(n, a.sites().values().stream().map(Adapter::site).toList());
      mergedWeights.forEach((path, m) -> weights.store(weights.site(path), m, false));
      mergedHeld.forEach((path, q) -> model.base().quantizedWeights().put(weights.site(path).weightName(), q));
      a.requantized.clear();
      before.forEach((path, q) ->
          a.requantized.put(path, new QuantizedWeight[] {q, weights.quantized(weights.site(path))}));
      a.merged = true;
      mergeOrder.add(n);
      model.changed();
    }
  }

  /**
   * The frozen weight of {@code site} as the unmerged forward sees it: {@code current} (its weight
   * now) with the merged adapters taken out, last merged first; {@code current} itself when none
   * is merged there. Adapters whose merge depends on the base (DoRA's norm) need it.
   */
  private INDArray unmergedBase(LinearSite site, INDArray current) {
    INDArray w = current;
    for (int i = mergeOrder.size() - 1; i >= 0; i--) {
      Adapter ad = model.adapter(mergeOrder.get(i)).sites().get(site.path());
      if (ad != null) {
        w = ad.unmerge(w);
      }
    }
    return w;
  }

  /** Restores the base weights of every merged adapter (last merged first). */
  void unmergeAll() {
    while (!mergeOrder.isEmpty()) {
      unmergeOne(model.adapter(mergeOrder.get(mergeOrder.size() - 1)));
    }
  }

  /**
   * Unmerges {@code a} alone: the adapters merged after it are unmerged first and merged again
   * afterwards, because a merge may depend on what was merged before (several DoRA adapters).
   */
  void unmergeAlone(NamedAdapter a) {
    int at = mergeOrder.indexOf(a.name());
    List<String> later = new ArrayList<>(mergeOrder.subList(at + 1, mergeOrder.size()));
    for (int i = later.size() - 1; i >= 0; i--) {
      unmergeOne(model.adapter(later.get(i)));
    }
    unmergeOne(a);
    if (!later.isEmpty()) {
      merge(later.toArray(String[]::new), false);
    }
  }

  /**
   * A quantized site still holding what this adapter's merge stored gets back the exact weight
   * the merge replaced; any other site is unmerged arithmetically (requantized if quantized).
   */
  private void unmergeOne(NamedAdapter a) {
    for (Adapter ad : a.sites().values()) {
      QuantizedWeight[] pair = a.requantized.get(ad.site().path());
      if (pair != null && weights.quantized(ad.site()) == pair[1]) {
        model.base().quantizedWeights().put(ad.site().weightName(), pair[0]);
        model.changed();
        continue;
      }
      weights.store(ad.site(), ad.unmerge(weights.torchLayout(ad.site())), true);
    }
    a.requantized.clear();
    a.merged = false;
    mergeOrder.remove(a.name());
    model.changed();
  }

  /** See {@link PeftModel#mergeAndUnload}. */
  BaseModel mergeAndUnload() {
    BaseModel base = model.base();
    List<NamedAdapter> toMerge = model.active().stream().map(model::adapter).filter(a -> !a.merged).toList();
    Map<String, INDArray> copy = new LinkedHashMap<>();
    base.weights().forEach((k, v) -> copy.put(k, v.dup()));
    model.modulesInUse().forEach((k, v) -> copy.put(k, v.dup())); // the active copy replaces the module
    for (LinearSite s : base.adapterSites()) {
      List<Adapter> here = toMerge.stream().map(a -> a.sites().get(s.path())).filter(Objects::nonNull).toList();
      if (here.isEmpty() && weights.quantized(s) == null) {
        continue;
      }
      INDArray w = weights.torchLayout(s); // [out, in], dequantized when quantized
      INDArray unmerged = here.isEmpty() ? w : unmergedBase(s, w);
      for (Adapter ad : here) {
        w = ad.merge(w, unmerged);
      }
      copy.put(s.weightName(), (s.fanInFanOut() ? w.transpose() : w).dup('c').castTo(DataType.FLOAT));
    }
    return base.withWeights(copy);
  }
}
