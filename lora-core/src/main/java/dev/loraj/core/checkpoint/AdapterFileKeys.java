package dev.loraj.core.checkpoint;

import static dev.loraj.core.checkpoint.PeftAdapters.KEY_PREFIX;

import dev.loraj.core.adapter.Adapter;
import dev.loraj.core.adapter.AdapterSpec;
import dev.loraj.core.adapter.BiasMode;
import dev.loraj.core.io.TensorSource;
import dev.loraj.core.model.LinearSite;
import dev.loraj.core.model.PeftModel;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Which tensors an adapter file holds and under which keys: an adapter's parameters and buffers as
 * {@code base_model.model.<module>.<key>}, the base tensors trained with it (its
 * {@code modules_to_save} and biases per the bias mode) as {@code base_model.model.<weight>}, and
 * the other spellings of those base keys some PEFT versions write. Saving and loading both name
 * tensors through it, so the two sides cannot drift apart.
 */
final class AdapterFileKeys {
  private AdapterFileKeys() {}

  /** The file key of an adapter's parameter or buffer {@code key} at site {@code path}. */
  static String siteKey(String path, String key) {
    return KEY_PREFIX + path + "." + key;
  }

  /** Parameters and buffers of {@code sites} under their file keys. */
  static Map<String, INDArray> siteTensors(Collection<Adapter> sites) {
    Map<String, INDArray> tensors = new TreeMap<>();
    for (Adapter a : sites) {
      Map<String, INDArray> state = new LinkedHashMap<>(a.parameters());
      state.putAll(a.buffers());
      state.forEach((k, v) -> tensors.put(siteKey(a.site().path(), k), v));
    }
    return tensors;
  }

  /**
   * The base tensors trained with adapter {@code na} (see {@link #trainedBaseTensors}) under
   * their file keys: its own {@code modules_to_save} copy where it has one, else the base's.
   */
  static Map<String, INDArray> baseTensors(PeftModel model, PeftModel.NamedAdapter na, AdapterSpec spec,
      Set<String> adapted) {
    Map<String, INDArray> tensors = new TreeMap<>();
    for (String w : trainedBaseTensors(model, spec, adapted)) {
      tensors.put(KEY_PREFIX + w, na.modulesToSave().getOrDefault(w, model.base().weights().get(w)));
    }
    return tensors;
  }

  /**
   * The file key of base tensor {@code w}: {@code base_model.model.<w>}, or the
   * {@code <module>.modules_to_save.<name>.<leaf>} spelling of some PEFT versions.
   */
  static String baseKey(TensorSource file, String w) {
    String plain = KEY_PREFIX + w;
    if (file.contains(plain)) {
      return plain;
    }
    int dot = w.lastIndexOf('.');
    if (dot > 0) {
      String module = KEY_PREFIX + w.substring(0, dot) + ".modules_to_save.";
      String leaf = w.substring(dot + 1);
      for (String n : file.names()) {
        if (n.startsWith(module) && n.endsWith("." + leaf)) {
          return n;
        }
        if (n.equals(module + leaf)) {
          return n;
        }
      }
    }
    return plain;
  }

  /** Base tensors trained with the adapter: modules_to_save and biases per the bias mode. */
  static Set<String> trainedBaseTensors(PeftModel model, AdapterSpec spec, Set<String> adapted) {
    Set<String> out = new LinkedHashSet<>(
        spec.targets().resolveModulesToSave(model.base().weights().keySet()));
    BiasMode bias = spec.config().bias();
    for (LinearSite s : model.base().linearSites()) {
      boolean take = bias == BiasMode.ALL || (bias == BiasMode.LORA_ONLY && adapted.contains(s.path()));
      if (take && s.hasBias()) {
        out.add(s.biasName());
      }
    }
    return out;
  }
}
