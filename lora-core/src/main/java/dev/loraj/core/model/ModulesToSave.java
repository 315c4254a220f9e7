package dev.loraj.core.model;

import dev.loraj.core.adapter.AdapterSpec;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.Map;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Each adapter's own copies of its {@code modules_to_save} tensors, as PEFT's
 * {@code ModulesToSaveWrapper} keeps them: the copy is made from the base when the adapter is
 * added, trained and saved with the adapter, used while the adapter is active; the base tensor
 * itself never changes, so disabling or deleting the adapter gives the original module back.
 */
final class ModulesToSave {
  private ModulesToSave() {}

  /** Fresh copies of the base tensors of {@code spec}'s {@code modules_to_save}, by weight name. */
  static Map<String, INDArray> copies(BaseModel base, AdapterSpec spec) {
    Map<String, INDArray> out = new LinkedHashMap<>();
    for (String w : spec.targets().resolveModulesToSave(base.weights().keySet())) {
      out.put(w, base.weights().get(w).dup());
    }
    return out;
  }

  /**
   * The copies in use: those of the given (active) adapters; two of them holding a copy of the
   * same tensor is an error, as in PEFT, since only one copy can replace the module.
   */
  static Map<String, INDArray> inUse(Collection<PeftModel.NamedAdapter> active) {
    Map<String, INDArray> out = new LinkedHashMap<>();
    Map<String, String> owner = new LinkedHashMap<>();
    for (PeftModel.NamedAdapter a : active) {
      for (var e : a.modulesToSave().entrySet()) {
        String other = owner.putIfAbsent(e.getKey(), a.name());
        if (other != null) {
          throw new IllegalStateException("adapters '" + other + "' and '" + a.name() + "' both hold a"
              + " modules_to_save copy of '" + e.getKey() + "'; only one of them can be active");
        }
        out.put(e.getKey(), e.getValue());
      }
    }
    return out;
  }
}
