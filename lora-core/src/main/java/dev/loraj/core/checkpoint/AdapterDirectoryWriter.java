package dev.loraj.core.checkpoint;

import static dev.loraj.core.checkpoint.PeftAdapters.CONFIG_FILE;
import static dev.loraj.core.checkpoint.PeftAdapters.FORMAT_OWN;
import static dev.loraj.core.checkpoint.PeftAdapters.FORMAT_PEFT;
import static dev.loraj.core.checkpoint.PeftAdapters.JSON;
import static dev.loraj.core.checkpoint.PeftAdapters.VARIANT_FILE;
import static dev.loraj.core.checkpoint.PeftAdapters.WEIGHTS_BASE;

import dev.loraj.core.adapter.Adapter;
import dev.loraj.core.adapter.AdapterSpec;
import dev.loraj.core.adapter.ConfigCodec;
import dev.loraj.core.io.AtomicFiles;
import dev.loraj.core.io.SafetensorsWriter;
import dev.loraj.core.model.PeftModel;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.atomic.AtomicLong;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * The save side of {@link PeftAdapters}: turns a model's adapter into the tensors and JSON files
 * of an adapter directory, in PEFT's format (converting or encoding variants that have a PEFT form)
 * or the framework's own, and writes the directory so that a new one appears complete or not at
 * all. Separate from the reader because the two share only the file layout
 * ({@link AdapterFileKeys}), not any logic.
 */
final class AdapterDirectoryWriter {
  private AdapterDirectoryWriter() {}

  private static final AtomicLong COUNTER = new AtomicLong();

  /** See {@link PeftAdapters#save(PeftModel, String, Path, String)}. */
  static void save(PeftModel model, String adapterName, Path dir, String baseModelNameOrPath)
      throws IOException {
    PeftModel.NamedAdapter na = model.adapter(adapterName);
    PeftAdapters.noPeftForm(na).ifPresent(reason -> {
      throw new IllegalArgumentException("variant '" + na.factory().name() + "' has no PEFT form: "
          + reason + "; PeftAdapters.saveOwn writes it in this framework's own format");
    });
    ConfigCodec codec = new ConfigCodec(model.registry());
    Map<String, Object> record = new TreeMap<>();
    record.put("format", FORMAT_PEFT);
    record.put("variant", na.factory().name());
    record.put("config", codec.toTree(na.spec().config()));
    AdapterSpec spec = na.spec();
    Map<String, Adapter> sites = na.sites();
    String variant = na.factory().name();
    if (na.factory() instanceof LoraForm form) {
      LoraForm.Converted converted = form.toLora(na);
      spec = converted.spec();
      sites = converted.sites();
      variant = model.registry().forConfig(spec.config()).name();
      record.put("converted", form.conversionNote(na));
    }
    List<String> paths = new ArrayList<>(sites.keySet());
    // an embedding table is stored [in, out] too, but PEFT's fan_in_fan_out is about linear layers
    boolean fanInFanOut = sites.values().stream().anyMatch(a -> a.site().fanInFanOut() && !a.site().embedding());
    Map<String, INDArray> tensors = new TreeMap<>();
    Map<String, Object> config;
    if (na.factory() instanceof PeftCodec peft) {
      config = PeftAdapterConfig.commonFields(peft.peftType(), spec, paths, fanInFanOut, codec,
          baseModelNameOrPath);
      config.putAll(peft.peftConfigFields(na));
      tensors.putAll(peft.peftTensors(na));
    } else {
      config = PeftAdapterConfig.toJson(variant, spec, paths, fanInFanOut, codec, baseModelNameOrPath);
      tensors.putAll(AdapterFileKeys.siteTensors(sites.values()));
    }
    record.put("peft_type", config.get("peft_type"));
    tensors.putAll(AdapterFileKeys.baseTensors(model, na, spec, sites.keySet()));
    Map<String, String> files = new LinkedHashMap<>();
    files.put(CONFIG_FILE, JSON.writeValueAsString(config) + "\n");
    files.put(VARIANT_FILE, JSON.writeValueAsString(record) + "\n");
    writeDirectory(dir, tensors, files);
  }

  /** See {@link PeftAdapters#saveOwn}. */
  static void saveOwn(PeftModel model, String adapterName, Path dir) throws IOException {
    PeftModel.NamedAdapter na = model.adapter(adapterName);
    ConfigCodec codec = new ConfigCodec(model.registry());
    Map<String, Object> record = new TreeMap<>();
    record.put("format", FORMAT_OWN);
    record.put("variant", na.factory().name());
    record.put("config", codec.toTree(na.spec().config()));
    record.put("target_modules", new ArrayList<>(new TreeSet<>(na.sites().keySet())));
    record.put("modules_to_save", na.spec().targets().modulesToSave());
    record.put("rank_pattern", new TreeMap<>(na.spec().targets().rankPattern()));
    record.put("alpha_pattern", new TreeMap<>(na.spec().targets().alphaPattern()));
    record.put("no_peft_form", PeftAdapters.noPeftForm(na).orElse(null));
    Map<String, INDArray> tensors = new TreeMap<>(AdapterFileKeys.siteTensors(na.sites().values()));
    tensors.putAll(AdapterFileKeys.baseTensors(model, na, na.spec(), na.sites().keySet()));
    writeDirectory(dir, tensors, Map.of(VARIANT_FILE, JSON.writeValueAsString(record) + "\n"));
  }

  private static void writeDirectory(Path dir, Map<String, INDArray> tensors,
      Map<String, String> files) throws IOException {
    Path target = dir.toAbsolutePath();
    if (Files.exists(target)) {
      if (!Files.isDirectory(target)) {
        throw new IllegalArgumentException(target + " exists and is not a directory");
      }
      writeFiles(target, tensors, files);
      return;
    }
    Files.createDirectories(target.getParent());
    Path temp = target.resolveSibling("." + target.getFileName() + "." + ProcessHandle.current().pid()
        + "." + COUNTER.incrementAndGet() + ".tmp");
    Files.createDirectory(temp);
    try {
      writeFiles(temp, tensors, files);
      Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE);
    } finally {
      if (Files.exists(temp)) {
        try (var s = Files.list(temp)) {
          for (Path p : s.toList()) {
            Files.deleteIfExists(p);
          }
        }
        Files.deleteIfExists(temp);
      }
    }
  }

  private static void writeFiles(Path dir, Map<String, INDArray> tensors, Map<String, String> files)
      throws IOException {
    SafetensorsWriter.write(dir.resolve(WEIGHTS_BASE + ".safetensors"), tensors, Map.of("format", "pt"));
    for (Map.Entry<String, String> f : files.entrySet()) {
      AtomicFiles.writeString(dir.resolve(f.getKey()), f.getValue());
    }
    // a PEFT directory rewritten in the own format (or back) must not keep the other's config
    if (!files.containsKey(CONFIG_FILE)) {
      Files.deleteIfExists(dir.resolve(CONFIG_FILE));
    }
  }

}
