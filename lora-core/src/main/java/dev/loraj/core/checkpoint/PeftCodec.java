package dev.loraj.core.checkpoint;

import com.fasterxml.jackson.databind.JsonNode;
import dev.loraj.core.adapter.Adapter;
import dev.loraj.core.adapter.AdapterConfig;
import dev.loraj.core.adapter.ConfigCodec;
import dev.loraj.core.model.PeftModel;
import java.util.Map;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * A variant factory whose adapters PEFT stores under another {@code peft_type} than
 * {@code LORA} (AdaLoRA's {@code ADALORA}, VeRA's {@code VERA}). {@link PeftAdapters} writes the
 * fields every PEFT config has ({@code peft_type}, {@code task_type},
 * {@code base_model_name_or_path}, {@code inference_mode}, {@code target_modules},
 * {@code fan_in_fan_out}, {@code modules_to_save}, {@code layers_to_transform},
 * {@code layers_pattern}) and the trained base tensors; the codec supplies the rest of the config
 * and the adapter tensors, and reads them back.
 */
public interface PeftCodec {

  /** PEFT's {@code peft_type}, e.g. {@code "VERA"}. */
  String peftType();

  /** The type-specific {@code adapter_config.json} fields of {@code adapter}'s current state. */
  Map<String, Object> peftConfigFields(PeftModel.NamedAdapter adapter);

  /**
   * The tensors of {@code adapter} under their full file keys
   * ({@code base_model.model.<module>.<name>} per site, other {@code base_model.} keys for state
   * shared by all sites).
   *
   * @throws IllegalArgumentException naming the variant and the reason when this adapter's state
   *     has no PEFT form
   */
  Map<String, INDArray> peftTensors(PeftModel.NamedAdapter adapter);

  /** The variant config described by a PEFT config tree of this codec's {@code peft_type}. */
  AdapterConfig configFromPeft(JsonNode root, ConfigCodec codec, String source);

  /**
   * Fills freshly created {@code sites} (path to adapter) from the file; {@code root} is the
   * parsed {@code adapter_config.json}. Every tensor is read through {@code file}, which checks
   * presence and shape and marks it used.
   */
  void readPeftTensors(Map<String, Adapter> sites, JsonNode root, TensorReader file);

  /** Reads checked tensors from an adapter file. */
  interface TensorReader {
    boolean contains(String key);

    /** The tensor's shape in the file. */
    long[] shape(String key);

    /**
     * The values of {@code key}, which must have {@code expectedShape} (size-1 dimensions
     * ignored).
     *
     * @throws IllegalArgumentException naming the key, the file and both shapes
     */
    INDArray read(String key, long... expectedShape);
  }
}
