package dev.loraj.core.checkpoint;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.loraj.core.adapter.AdapterFactory;
import dev.loraj.core.model.PeftModel;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * PEFT adapter directories ({@code PeftModel.save_pretrained} / {@code from_pretrained}, peft
 * 0.21): {@code adapter_config.json} ({@link PeftAdapterConfig}) and
 * {@code adapter_model.safetensors} with keys {@code base_model.model.<module>.<parameter key>}:
 * {@code lora_A.weight} [r, in], {@code lora_B.weight} [out, r], DoRA's
 * {@code lora_magnitude_vector} [out], and full base tensors of {@code modules_to_save} (and of
 * trained biases) as {@code base_model.model.<module>.weight}. {@code in}/{@code out} are the
 * logical ones even where the base stores [in, out] (GPT-2).
 *
 * <p>Other variants: LoRA-shaped ones (a {@link PeftExportable} config) are written as LoRA;
 * a {@link LoraForm} factory's adapters as the plain LoRA they convert to; a {@link PeftCodec}
 * factory's in its own {@code peft_type} (AdaLoRA, VeRA). Beside PEFT's two files,
 * {@value #VARIANT_FILE} records the variant and its full config (PEFT ignores the file; the
 * loader here uses it to restore e.g. LoRA+'s learning-rate ratio or LoRA-FA's frozen A). A
 * variant with no PEFT form ({@link NoPeftForm}, or any other) is refused by {@link #save} with
 * the variant and the reason; {@link #saveOwn} writes it in this framework's own format: the
 * same safetensors file (keys {@code base_model.model.<module>.<parameter or buffer key>}) and
 * {@value #VARIANT_FILE} with {@code "format": "loraj"}, the targets and the reason, and no
 * {@code adapter_config.json}. {@link #load} reads both kinds.
 *
 * <p>Loading is all-or-nothing: every tensor is read and checked (a missing or misshapen tensor
 * is an error naming the key and both shapes; a tensor nothing consumes is an error too) before
 * the model changes.
 */
public final class PeftAdapters {
  private PeftAdapters() {}

  private static final Logger log = LoggerFactory.getLogger(PeftAdapters.class);

  public static final String CONFIG_FILE = "adapter_config.json";
  public static final String WEIGHTS_BASE = "adapter_model";
  public static final String KEY_PREFIX = "base_model.model.";
  /** The framework's record of the variant beside the weights (both formats). */
  public static final String VARIANT_FILE = "loraj_adapter.json";
  /** {@code format} of {@value #VARIANT_FILE} in a PEFT directory. */
  public static final String FORMAT_PEFT = "peft";
  /** {@code format} of {@value #VARIANT_FILE} in a directory of the framework's own format. */
  public static final String FORMAT_OWN = "loraj";
  static final ObjectMapper JSON = new ObjectMapper()
      .enable(SerializationFeature.INDENT_OUTPUT)
      .enable(SerializationFeature.ORDER_MAP_ENTRIES_BY_KEYS);

  /** An adapter_config.json is a few hundred bytes; anything this large is the wrong file. */
  static final long MAX_CONFIG_BYTES = 16L << 20;

  /** Reads {@code dir/adapter_config.json}. */
  public static PeftAdapterConfig readConfig(Path dir, dev.loraj.core.adapter.AdapterRegistry registry)
      throws IOException {
    Path file = dir.resolve(CONFIG_FILE);
    if (!Files.isRegularFile(file)) {
      throw new NoSuchFileException(file.toString(), null, "a PEFT adapter directory needs " + CONFIG_FILE);
    }
    PeftAdapterConfig config =
        PeftAdapterConfig.parse(AdapterDirectoryReader.readTree(file), registry, file.toString());
    if (!config.ignoredKeys().isEmpty()) {
      log.warn("{}: ignoring fields this loader does not implement: {}", file, config.ignoredKeys());
    }
    return config;
  }

  /**
   * Loads the adapter in {@code dir} into {@code model} as {@code adapterName} (active if it is
   * the model's first adapter): a PEFT directory, or one in the framework's own format
   * ({@link #saveOwn}). Tensors of {@code modules_to_save} become the adapter's own copies
   * of those modules (the base keeps its values), trained biases replace the base's, as in PEFT.
   */
  public static PeftModel.NamedAdapter load(PeftModel model, Path dir, String adapterName)
      throws IOException {
    return AdapterDirectoryReader.load(model, dir, adapterName);
  }

  /**
   * Writes {@code adapterName} of {@code model} to {@code dir} in PEFT's format.
   *
   * @throws IllegalArgumentException naming the variant and the reason when PEFT has no form for
   *     it ({@link #saveOwn} writes it)
   */
  public static void save(PeftModel model, String adapterName, Path dir) throws IOException {
    save(model, adapterName, dir, null);
  }

  /**
   * As {@link #save(PeftModel, String, Path)}, recording {@code baseModelNameOrPath} (PEFT's
   * {@code base_model_name_or_path}; may be null). A new directory appears complete or not at
   * all (written under a temporary name, then renamed); in an existing directory each file is
   * replaced atomically, weights first.
   */
  public static void save(PeftModel model, String adapterName, Path dir, String baseModelNameOrPath)
      throws IOException {
    AdapterDirectoryWriter.save(model, adapterName, dir, baseModelNameOrPath);
  }

  /**
   * Writes {@code adapterName} in the framework's own format (any variant): its parameters and
   * buffers under {@code base_model.model.<module>.<key>} and the trained base tensors in
   * {@code adapter_model.safetensors}, and {@value #VARIANT_FILE} with {@code "format": "loraj"},
   * the variant, its config, the adapted module paths, {@code modules_to_save},
   * {@code rank_pattern}, {@code alpha_pattern} and, where PEFT has no form for the variant, why. {@link #load} reads it back.
   */
  public static void saveOwn(PeftModel model, String adapterName, Path dir) throws IOException {
    AdapterDirectoryWriter.saveOwn(model, adapterName, dir);
  }

  /**
   * Why {@link #save} cannot write this adapter in PEFT's format, or empty when it can: the
   * factory's {@link NoPeftForm} reason, or, for a variant that declares no PEFT form at all,
   * that its config is neither LoRA-shaped nor read by a codec.
   */
  public static Optional<String> noPeftForm(PeftModel.NamedAdapter adapter) {
    AdapterFactory<?> f = adapter.factory();
    if (f instanceof NoPeftForm no) {
      return Optional.of(no.noPeftFormReason());
    }
    if (f instanceof PeftCodec || f instanceof LoraForm
        || PeftAdapterConfig.exportable(f.name(), adapter.spec().config())) {
      return Optional.empty();
    }
    return Optional.of("its config " + adapter.spec().config().getClass().getSimpleName()
        + " is not LoRA-shaped (PeftExportable) and its factory writes no other PEFT type"
        + " (PeftCodec, LoraForm)");
  }
}
