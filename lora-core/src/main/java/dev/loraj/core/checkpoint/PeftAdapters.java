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
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
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
    PeftAdapterConfig config = PeftAdapterConfig.parse(root, registry, file.toString());
    if (!config.ignoredKeys().isEmpty()) {
      log.warn("{}: ignoring fields this loader does not implement: {}", file, config.ignoredKeys());
    }
    return config;
  }

  /**
   * Loads the adapter in {@code dir} into {@code model} as {@code adapterName} (active if it is
   * the model's first adapter). Tensors of {@code modules_to_save} become the adapter's own copies
   * of those modules (the base keeps its values), trained biases replace the base's, as in PEFT.
   */
  public static PeftModel.NamedAdapter load(PeftModel model, Path dir, String adapterName)
      throws IOException {
    if (model.adapterNames().contains(adapterName)) {
      throw new IllegalArgumentException("an adapter named '" + adapterName + "' already exists");
    }
    PeftAdapterConfig parsed = readConfig(dir, model.registry());
    AdapterSpec spec = keepExistingModulesToSave(parsed.spec(), model, dir);
    AdapterFactory<?> factory = model.registry().get(parsed.variant());
    List<LinearSite> sites = spec.targets().resolve(model.base().linearSites());
    checkLayout(parsed, sites, dir);

    Map<String, Adapter> created = new LinkedHashMap<>();
    for (LinearSite site : sites) {
      AdapterConfig cfg = spec.config();
      int r = spec.targets().rankFor(site, cfg.rank());
      double alpha = spec.targets().alphaFor(site, cfg.alpha());
      if (r != cfg.rank() || alpha != cfg.alpha()) {
        cfg = cfg.withRankAndAlpha(r, alpha);
      }
      created.put(site.path(), factory.createUnchecked(cfg, new LoadInit(model, adapterName, site)));
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
      for (Adapter a : created.values()) {
        Map<String, INDArray> state = new LinkedHashMap<>(a.parameters());
        state.putAll(a.buffers());
        for (Map.Entry<String, INDArray> e : state.entrySet()) {
          String key = KEY_PREFIX + a.site().path() + "." + e.getKey();
          assign.add(new INDArray[] {e.getValue(), read(file, key, e.getValue(), dir, unused)});
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
    PeftModel.NamedAdapter added = model.putAdapter(adapterName, spec, created, modules);
    baseTensors.removeAll(modules.keySet()); // the biases trained with the adapter (bias modes)
    if (!baseTensors.isEmpty()) {
      model.addTrainableBase(baseTensors);
    }
    return added;
  }

  /** Writes {@code adapterName} of {@code model} to {@code dir} in PEFT's format. */
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
    AdapterSpec spec = na.spec();
    Map<String, INDArray> tensors = new TreeMap<>();
    List<String> paths = new ArrayList<>();
    boolean fanInFanOut = false;
    for (Adapter a : na.sites().values()) {
      paths.add(a.site().path());
      fanInFanOut |= a.site().fanInFanOut();
      Map<String, INDArray> state = new LinkedHashMap<>(a.parameters());
      state.putAll(a.buffers());
      state.forEach((k, v) -> tensors.put(KEY_PREFIX + a.site().path() + "." + k, v));
    }
    for (String w : trainedBaseTensors(model, spec, na.sites().keySet())) {
      tensors.put(KEY_PREFIX + w, na.modulesToSave().getOrDefault(w, model.base().weights().get(w)));
    }
    ConfigCodec codec = new ConfigCodec(model.registry());
    Map<String, Object> config = PeftAdapterConfig.toJson(
        na.factory().name(), spec, paths, fanInFanOut, codec, baseModelNameOrPath);
    String json = JSON.writeValueAsString(config) + "\n";

    Path target = dir.toAbsolutePath();
    if (Files.exists(target)) {
      if (!Files.isDirectory(target)) {
        throw new IllegalArgumentException(target + " exists and is not a directory");
      }
      writeFiles(target, tensors, json);
      return;
    }
    Files.createDirectories(target.getParent());
    Path temp = target.resolveSibling("." + target.getFileName() + "." + ProcessHandle.current().pid()
        + "." + COUNTER.incrementAndGet() + ".tmp");
    Files.createDirectory(temp);
    try {
      writeFiles(temp, tensors, json);
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

  private static void writeFiles(Path dir, Map<String, INDArray> tensors, String json)
      throws IOException {
    SafetensorsWriter.write(dir.resolve(WEIGHTS_BASE + ".safetensors"), tensors, Map.of("format", "pt"));
    AtomicFiles.writeString(dir.resolve(CONFIG_FILE), json);
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
    if (!file.contains(key)) {
      throw new IllegalArgumentException(
          dir.resolve(WEIGHTS_BASE + ".safetensors") + " has no tensor '" + key + "' (expected shape "
              + Arrays.toString(target.shape()) + ")");
    }
    long[] shape = file.info(key).shape();
    if (!Arrays.equals(shape, target.shape()) && !Arrays.equals(squeeze(shape), squeeze(target.shape()))) {
      throw new IllegalArgumentException(
          dir.resolve(WEIGHTS_BASE + ".safetensors") + ": tensor '" + key + "' has shape "
              + Arrays.toString(shape) + ", the adapter expects " + Arrays.toString(target.shape()));
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
  private record LoadInit(PeftModel model, String adapterName, LinearSite site) implements SiteInit {
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
