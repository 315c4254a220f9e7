package dev.loraj.core.checkpoint;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.loraj.core.adapter.Adapter;
import dev.loraj.core.adapter.AdapterConfig;
import dev.loraj.core.adapter.AdapterFactory;
import dev.loraj.core.adapter.AdapterSpec;
import dev.loraj.core.adapter.BiasMode;
import dev.loraj.core.adapter.ConfigCodec;
import dev.loraj.core.adapter.SiteInit;
import dev.loraj.core.io.AtomicFiles;
import dev.loraj.core.io.SafetensorsWriter;
import dev.loraj.core.io.ShardedCheckpoint;
import dev.loraj.core.io.TensorSource;
import dev.loraj.core.model.LinearSite;
import dev.loraj.core.model.PeftModel;
import dev.loraj.core.model.Targets;
import dev.loraj.core.quant.QuantizedWeight;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.atomic.AtomicLong;
import org.nd4j.linalg.api.ndarray.INDArray;
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
  private static final ObjectMapper JSON = new ObjectMapper()
      .enable(SerializationFeature.INDENT_OUTPUT)
      .enable(SerializationFeature.ORDER_MAP_ENTRIES_BY_KEYS);
  private static final AtomicLong COUNTER = new AtomicLong();

  /** An adapter_config.json is a few hundred bytes; anything this large is the wrong file. */
  static final long MAX_CONFIG_BYTES = 16L << 20;

  /** Reads {@code dir/adapter_config.json}. */
  public static PeftAdapterConfig readConfig(Path dir, dev.loraj.core.adapter.AdapterRegistry registry)
      throws IOException {
    Path file = dir.resolve(CONFIG_FILE);
    if (!Files.isRegularFile(file)) {
      throw new NoSuchFileException(file.toString(), null, "a PEFT adapter directory needs " + CONFIG_FILE);
    }
    PeftAdapterConfig config = PeftAdapterConfig.parse(readTree(file), registry, file.toString());
    if (!config.ignoredKeys().isEmpty()) {
      log.warn("{}: ignoring fields this loader does not implement: {}", file, config.ignoredKeys());
    }
    return config;
  }

  /** A small UTF-8 JSON file as a tree. */
  private static JsonNode readTree(Path file) throws IOException {
    if (Files.size(file) > MAX_CONFIG_BYTES) {
      throw new IllegalArgumentException(file + ": " + Files.size(file) + " bytes; an adapter config over "
          + MAX_CONFIG_BYTES + " bytes is refused");
    }
    JsonNode root;
    try {
      // JSON is UTF-8 (RFC 8259); decoded here so that no byte pattern makes Jackson guess UTF-16/32
      String text = java.nio.charset.StandardCharsets.UTF_8.newDecoder()
          .decode(java.nio.ByteBuffer.wrap(Files.readAllBytes(file))).toString();
      root = JSON.readTree(text);
    } catch (java.nio.charset.CharacterCodingException e) {
      throw new IllegalArgumentException(file + ": not UTF-8 text", e);
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      throw new IllegalArgumentException(file + ": not valid JSON: " + e.getOriginalMessage(), e);
    }
    return root;
  }

  /**
   * Loads the adapter in {@code dir} into {@code model} as {@code adapterName} (active if it is
   * the model's first adapter): a PEFT directory, or one in the framework's own format
   * ({@link #saveOwn}). Tensors of {@code modules_to_save} become the adapter's own copies
   * of those modules (the base keeps its values), trained biases replace the base's, as in PEFT.
   */
  public static PeftModel.NamedAdapter load(PeftModel model, Path dir, String adapterName)
      throws IOException {
    if (model.adapterNames().contains(adapterName)) {
      throw new IllegalArgumentException("an adapter named '" + adapterName + "' already exists");
    }
    JsonNode record = readVariantRecord(dir);
    ConfigCodec codec = new ConfigCodec(model.registry());
    String variant;
    AdapterSpec spec;
    JsonNode peftRoot = null;
    if (!Files.isRegularFile(dir.resolve(CONFIG_FILE)) && record != null
        && record.path("format").asText().equals(FORMAT_OWN)) {
      Path file = dir.resolve(VARIANT_FILE);
      AdapterConfig cfg = codec.fromTree(record.get("config"));
      variant = model.registry().forConfig(cfg).name();
      Targets targets = Targets.of(stringArray(record.get("target_modules"), file, "target_modules")
              .toArray(String[]::new))
          .withModulesToSave(stringArray(record.get("modules_to_save"), file, "modules_to_save")
              .toArray(String[]::new));
      // the patterns select by module name, so they resolve on the exact paths as they did
      Map<String, Integer> ranks = new LinkedHashMap<>();
      record.path("rank_pattern").fields().forEachRemaining(e -> ranks.put(e.getKey(), e.getValue().asInt()));
      Map<String, Double> alphas = new LinkedHashMap<>();
      record.path("alpha_pattern").fields().forEachRemaining(e -> alphas.put(e.getKey(), e.getValue().asDouble()));
      spec = new AdapterSpec(cfg, targets.withRankPattern(ranks).withAlphaPattern(alphas));
    } else {
      PeftAdapterConfig parsed = readConfig(dir, model.registry());
      variant = parsed.variant();
      spec = parsed.spec();
      peftRoot = parsed.root();
      AdapterConfig own = recordedConfig(record, parsed, codec, dir);
      if (own != null) {
        variant = model.registry().forConfig(own).name();
        spec = new AdapterSpec(own, spec.targets());
      }
      checkLayout(parsed, spec.targets().resolve(model.base().linearSites()), dir);
    }
    spec = keepExistingModulesToSave(spec, model, dir);
    AdapterFactory<?> factory = model.registry().get(variant);
    List<LinearSite> sites = spec.targets().resolve(model.base().linearSites());

    Map<String, Adapter> created = new LinkedHashMap<>();
    Map<Class<?>, Object> shared = new LinkedHashMap<>();
    Map<LinearSite, QuantizedWeight> quantize = new LinkedHashMap<>();
    for (LinearSite site : sites) {
      AdapterConfig cfg = spec.config();
      int r = spec.targets().rankFor(site, cfg.rank());
      double alpha = spec.targets().alphaFor(site, cfg.alpha());
      if (r != cfg.rank() || alpha != cfg.alpha()) {
        cfg = cfg.withRankAndAlpha(r, alpha);
      }
      created.put(site.path(),
          factory.createUnchecked(cfg, new LoadInit(model, adapterName, site, shared, quantize)));
    }
    Set<String> baseTensors = trainedBaseTensors(model, spec, created.keySet());
    Map<String, INDArray> modules = new LinkedHashMap<>(); // the adapter's copies, filled from the file
    for (String w : spec.targets().resolveModulesToSave(model.base().weights().keySet())) {
      modules.put(w, model.base().weights().get(w).dup());
    }

    // (target array, file values) pairs; not a map: INDArray equality compares values
    List<INDArray[]> assign = new ArrayList<>();
    try (TensorSource file = openWeights(dir)) {
      Set<String> unused = new TreeSet<>(file.names());
      if (peftRoot != null && factory instanceof PeftCodec peft) {
        peft.readPeftTensors(created, peftRoot, new Reader(file, dir, unused));
      } else {
        for (Adapter a : created.values()) {
          Map<String, INDArray> state = new LinkedHashMap<>(a.parameters());
          state.putAll(a.buffers());
          for (Map.Entry<String, INDArray> e : state.entrySet()) {
            String key = KEY_PREFIX + a.site().path() + "." + e.getKey();
            assign.add(new INDArray[] {e.getValue(), read(file, key, e.getValue(), dir, unused)});
          }
        }
      }
      for (String w : baseTensors) {
        String key = baseKey(file, w);
        INDArray target = modules.getOrDefault(w, model.base().weights().get(w));
        assign.add(new INDArray[] {target, read(file, key, target, dir, unused)});
      }
      if (!unused.isEmpty()) {
        throw new IllegalArgumentException(
            dir.resolve(WEIGHTS_BASE + ".safetensors") + " has " + unused.size()
                + " tensors no adapted module takes: " + sample(unused) + "; adapted modules: "
                + created.keySet());
      }
    }
    for (INDArray[] pair : assign) {
      pair[0].assign(pair[1].reshape(pair[0].shape())); // [file shape] -> [adapter shape]
    }
    quantize.forEach(model::storeQuantized);
    PeftModel.NamedAdapter added = model.putAdapter(adapterName, spec, created, modules);
    baseTensors.removeAll(modules.keySet()); // the biases trained with the adapter (bias modes)
    if (!baseTensors.isEmpty()) {
      model.addTrainableBase(baseTensors);
    }
    return added;
  }

  /**
   * The variant config recorded in {@value #VARIANT_FILE} when it describes the same adapter
   * as the PEFT config (not a converted one, same rank and alpha, the variant registered), else
   * null: the PEFT config alone then decides (a directory PEFT wrote, or one edited since).
   */
  private static AdapterConfig recordedConfig(JsonNode record, PeftAdapterConfig parsed,
      ConfigCodec codec, Path dir) {
    if (record == null || !record.path("format").asText().equals(FORMAT_PEFT)
        || record.has("converted")) {
      return null;
    }
    AdapterConfig own;
    try {
      own = codec.fromTree(record.get("config"));
    } catch (RuntimeException e) {
      log.warn("{}: {} not used ({}); the adapter loads as '{}'", dir, VARIANT_FILE,
          e.getMessage(), parsed.variant());
      return null;
    }
    AdapterConfig peft = parsed.spec().config();
    if (own.rank() != peft.rank() || own.alpha() != peft.alpha()) {
      log.warn("{}: {} records rank {} alpha {}, {} has rank {} alpha {}; loading as '{}'", dir,
          VARIANT_FILE, own.rank(), own.alpha(), CONFIG_FILE, peft.rank(), peft.alpha(), parsed.variant());
      return null;
    }
    return own;
  }

  private static JsonNode readVariantRecord(Path dir) throws IOException {
    Path file = dir.resolve(VARIANT_FILE);
    return Files.isRegularFile(file) ? readTree(file) : null;
  }

  private static List<String> stringArray(JsonNode v, Path file, String field) {
    List<String> out = new ArrayList<>();
    if (v == null || v.isNull()) {
      return out;
    }
    if (!v.isArray()) {
      throw new IllegalArgumentException(file + ": " + field + " = " + v + "; expected a list of strings");
    }
    v.forEach(n -> out.add(n.asText()));
    return out;
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
    PeftModel.NamedAdapter na = model.adapter(adapterName);
    noPeftForm(na).ifPresent(reason -> {
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
    boolean fanInFanOut = sites.values().stream().anyMatch(a -> a.site().fanInFanOut());
    Map<String, INDArray> tensors = new TreeMap<>();
    Map<String, Object> config;
    if (na.factory() instanceof PeftCodec peft) {
      config = PeftAdapterConfig.commonFields(peft.peftType(), spec, paths, fanInFanOut, codec,
          baseModelNameOrPath);
      config.putAll(peft.peftConfigFields(na));
      tensors.putAll(peft.peftTensors(na));
    } else {
      config = PeftAdapterConfig.toJson(variant, spec, paths, fanInFanOut, codec, baseModelNameOrPath);
      tensors.putAll(siteTensors(sites.values()));
    }
    record.put("peft_type", config.get("peft_type"));
    for (String w : trainedBaseTensors(model, spec, sites.keySet())) {
      tensors.put(KEY_PREFIX + w, na.modulesToSave().getOrDefault(w, model.base().weights().get(w)));
    }
    Map<String, String> files = new LinkedHashMap<>();
    files.put(CONFIG_FILE, JSON.writeValueAsString(config) + "\n");
    files.put(VARIANT_FILE, JSON.writeValueAsString(record) + "\n");
    writeDirectory(dir, tensors, files);
  }

  /**
   * Writes {@code adapterName} in the framework's own format (any variant): its parameters and
   * buffers under {@code base_model.model.<module>.<key>} and the trained base tensors in
   * {@code adapter_model.safetensors}, and {@value #VARIANT_FILE} with {@code "format": "loraj"},
   * the variant, its config, the adapted module paths, {@code modules_to_save},
   * {@code rank_pattern}, {@code alpha_pattern} and, where PEFT has no form for the variant, why. {@link #load} reads it back.
   */
  public static void saveOwn(PeftModel model, String adapterName, Path dir) throws IOException {
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
    record.put("no_peft_form", noPeftForm(na).orElse(null));
    Map<String, INDArray> tensors = new TreeMap<>(siteTensors(na.sites().values()));
    for (String w : trainedBaseTensors(model, na.spec(), na.sites().keySet())) {
      tensors.put(KEY_PREFIX + w, na.modulesToSave().getOrDefault(w, model.base().weights().get(w)));
    }
    writeDirectory(dir, tensors, Map.of(VARIANT_FILE, JSON.writeValueAsString(record) + "\n"));
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

  /** Parameters and buffers of {@code sites} under their file keys. */
  private static Map<String, INDArray> siteTensors(Collection<Adapter> sites) {
    Map<String, INDArray> tensors = new TreeMap<>();
    for (Adapter a : sites) {
      Map<String, INDArray> state = new LinkedHashMap<>(a.parameters());
      state.putAll(a.buffers());
      state.forEach((k, v) -> tensors.put(KEY_PREFIX + a.site().path() + "." + k, v));
    }
    return tensors;
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

  /** {@link PeftCodec.TensorReader} over an open adapter file. */
  private record Reader(TensorSource file, Path dir, Set<String> unused) implements PeftCodec.TensorReader {
    @Override
    public boolean contains(String key) {
      return file.contains(key);
    }

    @Override
    public long[] shape(String key) {
      if (!file.contains(key)) {
        throw new IllegalArgumentException(
            dir.resolve(WEIGHTS_BASE + ".safetensors") + " has no tensor '" + key + "'");
      }
      return file.info(key).shape();
    }

    @Override
    public INDArray read(String key, long... expectedShape) {
      return PeftAdapters.read(file, key, expectedShape, dir, unused);
    }
  }

  // ------------------------------------------------------------------ internals

  private static TensorSource openWeights(Path dir) throws IOException {
    if (!Files.isRegularFile(dir.resolve(WEIGHTS_BASE + ".safetensors"))
        && !Files.isRegularFile(dir.resolve(WEIGHTS_BASE + ".safetensors.index.json"))
        && Files.isRegularFile(dir.resolve(WEIGHTS_BASE + ".bin"))) {
      throw new IllegalArgumentException(
          dir + " holds adapter_model.bin (a PyTorch pickle), which is not read here; save it"
              + " with safe_serialization=True to get adapter_model.safetensors");
    }
    return ShardedCheckpoint.open(dir, WEIGHTS_BASE);
  }

  /** The file's values for {@code key}, checked against {@code target}'s shape. */
  private static INDArray read(TensorSource file, String key, INDArray target, Path dir,
      Set<String> unused) {
    return read(file, key, target.shape(), dir, unused);
  }

  /** The file's values for {@code key}, checked against {@code expected} (size-1 dimensions aside). */
  private static INDArray read(TensorSource file, String key, long[] expected, Path dir,
      Set<String> unused) {
    if (!file.contains(key)) {
      throw new IllegalArgumentException(
          dir.resolve(WEIGHTS_BASE + ".safetensors") + " has no tensor '" + key + "' (expected shape "
              + Arrays.toString(expected) + ")");
    }
    long[] shape = file.info(key).shape();
    if (!Arrays.equals(shape, expected) && !Arrays.equals(squeeze(shape), squeeze(expected))) {
      throw new IllegalArgumentException(
          dir.resolve(WEIGHTS_BASE + ".safetensors") + ": tensor '" + key + "' has shape "
              + Arrays.toString(shape) + ", the adapter expects " + Arrays.toString(expected));
    }
    unused.remove(key);
    return file.getFloat(key);
  }

  private static long[] squeeze(long[] shape) {
    return Arrays.stream(shape).filter(d -> d != 1).toArray();
  }

  /**
   * The file key of base tensor {@code w}: {@code base_model.model.<w>}, or the
   * {@code <module>.modules_to_save.<name>.<leaf>} spelling of some PEFT versions.
   */
  private static String baseKey(TensorSource file, String w) {
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

  /**
   * PEFT adds {@code classifier} and {@code score} to {@code modules_to_save} for sequence
   * classification whatever the model has; entries that name no base weight are dropped.
   */
  private static AdapterSpec keepExistingModulesToSave(AdapterSpec spec, PeftModel model, Path dir) {
    Targets t = spec.targets();
    if (t.modulesToSave().isEmpty()) {
      return spec;
    }
    List<String> kept = new ArrayList<>();
    for (String m : t.modulesToSave()) {
      try {
        Targets.of("x").withModulesToSave(m).resolveModulesToSave(model.base().weights().keySet());
        kept.add(m);
      } catch (IllegalArgumentException e) {
        log.debug("{}: modules_to_save entry '{}' names no module of this model; skipped", dir, m);
      }
    }
    Targets k = new Targets(t.targetModules(), t.exclude(), t.layers(), t.rankPattern(),
        t.alphaPattern(), kept);
    return new AdapterSpec(spec.config(), k);
  }

  /** fan_in_fan_out describes the base layout; a disagreement with the model is worth a warning. */
  private static void checkLayout(PeftAdapterConfig parsed, List<LinearSite> sites, Path dir) {
    boolean modelLayout = sites.stream().anyMatch(LinearSite::fanInFanOut);
    if (modelLayout != parsed.fanInFanOut()) {
      log.warn("{}: fan_in_fan_out = {} but the targeted modules store weights {}; using the"
          + " model's layout", dir, parsed.fanInFanOut(), modelLayout ? "[in, out]" : "[out, in]");
    }
  }

  private static String sample(Set<String> names) {
    List<String> l = names.stream().limit(8).toList();
    return l + (names.size() > 8 ? " ..." : "");
  }

  /** Creation context of a loaded adapter: its values are overwritten from the file. */
  private record LoadInit(PeftModel model, String adapterName, LinearSite site,
      Map<Class<?>, Object> sharedState, Map<LinearSite, QuantizedWeight> quantize)
      implements SiteInit {
    /**
     * A quantizing variant (QLoRA, LoftQ, QPiSSA) quantizes the base as when it was created;
     * applied once the whole file has been read and checked.
     */
    @Override
    public void rewriteBase(QuantizedWeight weight) {
      quantize.put(site, weight);
    }

    @Override
    public <T> T shared(Class<T> type, java.util.function.Supplier<? extends T> create) {
      return type.cast(sharedState.computeIfAbsent(type, k -> create.get()));
    }

    @Override
    public Optional<Adapter> otherAdapter(String name) {
      return model.adapterNames().contains(name)
          ? Optional.ofNullable(model.adapter(name).sites().get(site.path())) : Optional.empty();
    }

    @Override
    public INDArray baseWeight() {
      return model.torchLayout(site);
    }

    @Override
    public SplittableRandom random() {
      return new SplittableRandom(seed());
    }

    @Override
    public long seed() {
      return site.path().hashCode();
    }

    @Override
    public void rewriteBase(INDArray weight) {
      throw new IllegalStateException(
          "the variant at " + site.path() + " rewrites the base weight at init; a PEFT adapter"
              + " file cannot restore that base (load the rewritten base model instead)");
    }
  }
}
