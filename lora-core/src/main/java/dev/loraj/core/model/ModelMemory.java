package dev.loraj.core.model;

import dev.loraj.core.adapter.Adapter;
import dev.loraj.core.engine.MemoryLedger;
import dev.loraj.core.model.PeftModel.NamedAdapter;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.Set;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * What a {@link PeftModel}'s adapters and base hold, counted: the trainable parameters and the
 * arrays by memory category. Kept apart from the model's lifecycle (add, activate, merge), which
 * it only reads; the model adds its calibration statistics and inference graphs itself.
 */
final class ModelMemory {
  private ModelMemory() {}

  /** See {@link PeftModel#trainableParameters()}. */
  static long trainableParameters(PeftModel model) {
    long n = 0;
    for (String a : model.active()) {
      NamedAdapter na = model.adapters.get(a);
      if (!na.merged) {
        // the sites' own parameters: modules_to_save copies are trained base tensors, below
        Set<INDArray> seen = Collections.newSetFromMap(new IdentityHashMap<>());
        n += na.sites().values().stream().flatMap(ad -> ad.parameters().values().stream())
            .filter(seen::add).mapToLong(INDArray::length).sum();
      }
    }
    for (String w : model.trainableBase()) { // bias modes, and the active modules_to_save copies
      n += model.base().weights().get(w).length(); // a copy has the base tensor's shape
    }
    return n;
  }

  /** The adapters' and base's part of {@link PeftModel#addTo}. */
  static void addTo(PeftModel model, MemoryLedger ledger) {
    for (String a : model.active()) {
      NamedAdapter na = model.adapters.get(a);
      if (!na.merged) {
        na.sites().values().forEach(ad -> ledger.addAll(MemoryLedger.Category.TRAINABLE, ad.parameters().values()));
      }
    }
    for (String w : model.trainableBase) {
      ledger.add(MemoryLedger.Category.TRAINABLE, model.base().weights().get(w));
    }
    ledger.addAll(MemoryLedger.Category.TRAINABLE, model.modulesInUse().values());
    ledger.addAll(MemoryLedger.Category.FROZEN, model.base().weights().values());
    model.adapters.values().forEach(na -> ledger.addAll(MemoryLedger.Category.FROZEN, na.modulesToSave().values()));
    for (NamedAdapter na : model.adapters.values()) {
      for (Adapter ad : na.sites().values()) {
        ledger.addAll(MemoryLedger.Category.FROZEN, ad.parameters().values());
        ledger.addAll(MemoryLedger.Category.FROZEN, ad.buffers().values());
        ledger.addAll(MemoryLedger.Category.FROZEN, ad.heldArrays());
      }
    }
    model.base().quantizedWeights().values().forEach(q -> q.addTo(ledger));
  }
}
