package dev.loraj.core.checkpoint;

import static dev.loraj.core.checkpoint.PeftAdapters.CONFIG_FILE;
import static dev.loraj.core.checkpoint.PeftAdapters.FORMAT_OWN;
import static dev.loraj.core.checkpoint.PeftAdapters.FORMAT_PEFT;
import static dev.loraj.core.checkpoint.PeftAdapters.JSON;
import static dev.loraj.core.checkpoint.PeftAdapters.MAX_CONFIG_BYTES;
import static dev.loraj.core.checkpoint.PeftAdapters.VARIANT_FILE;
import static dev.loraj.core.checkpoint.PeftAdapters.WEIGHTS_BASE;

import com.fasterxml.jackson.databind.JsonNode;
import dev.loraj.core.adapter.Adapter;
import dev.loraj.core.adapter.AdapterConfig;
import dev.loraj.core.adapter.AdapterFactory;
import dev.loraj.core.adapter.AdapterSpec;
import dev.loraj.core.adapter.ConfigCodec;
import dev.loraj.core.adapter.SiteInit;
import dev.loraj.core.io.ShardedCheckpoint;
import dev.loraj.core.io.TensorSource;
import dev.loraj.core.model.EmbeddingSites;
import dev.loraj.core.model.LinearSite;
import dev.loraj.core.model.PeftModel;
import dev.loraj.core.model.Targets;
import dev.loraj.core.quant.QuantizedWeight;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.TreeSet;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The load side of {@link PeftAdapters}: reads an adapter directory (PEFT's or the framework's
 * own format), decides the variant and spec from {@code adapter_config.json} and
 * {@value PeftAdapters#VARIANT_FILE}, creates the adapter at each targeted site and fills it from
 * the safetensors file. Every tensor is read and checked before the model changes, so a bad file
 * leaves the model as it was. Separate from the writer because the two share only the file
 * layout ({@link AdapterFileKeys}), not any logic.
 */
final class AdapterDirectoryReader {
  private AdapterDirectoryReader() {}

  private static final Logger log = LoggerFactory.getLogger(PeftAdapters.class);

  /** A small UTF-8 JSON file as a tree. */
  static JsonNode readTree(Path file) throws IOException {
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

  /** See {@link PeftAdapters#load}. */
  static PeftModel.NamedAdapter load(PeftModel model, Path dir, String adapterName)
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
      PeftAdapterConfig parsed = PeftAdapters.readConfig(dir, model.registry());
      variant = parsed.variant();
      spec = parsed.spec();
      peftRoot = parsed.root();
      AdapterConfig own = recordedConfig(record, parsed, codec, dir);
      if (own != null) {
        variant = model.registry().forConfig(own).name();
        spec = new AdapterSpec(own, spec.targets());
      }
      checkLayout(parsed, spec.targets().resolve(model.base().adapterSites()), dir);
    }
    spec = keepExistingModulesToSave(spec, model, dir);
    AdapterFactory<?> factory = model.registry().get(variant);
    List<LinearSite> sites = spec.targets().resolve(model.base().adapterSites());
    EmbeddingSites.check(factory, sites);

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
    Set<String> baseTensors = AdapterFileKeys.trainedBaseTensors(model, spec, created.keySet());
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
            String key = AdapterFileKeys.siteKey(a.site().path(), e.getKey());
            assign.add(new INDArray[] {e.getValue(), read(file, key, e.getValue(), dir, unused)});
          }
        }
      }
      for (String w : baseTensors) {
        String key = AdapterFileKeys.baseKey(file, w);
        INDArray target = modules.getOrDefault(w, model.base().weights().get(w));
        assign.add(new INDArray[] {target, read(file, key, target, dir, unused)});
      }
      PeftEmbeddings.check(model, peftRoot, created.values(), file, dir, unused);
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
   * The variant config recorded in {@value PeftAdapters#VARIANT_FILE} when it describes the same adapter
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
      return AdapterDirectoryReader.read(file, key, expectedShape, dir, unused);
    }
  }

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
  static INDArray read(TensorSource file, String key, long[] expected, Path dir,
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
    boolean modelLayout = sites.stream().anyMatch(s -> s.fanInFanOut() && !s.embedding());
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
