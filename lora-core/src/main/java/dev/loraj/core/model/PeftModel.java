package dev.loraj.core.model;

import com.google.common.hash.Hashing;
import dev.loraj.core.adapter.Adapter;
import dev.loraj.core.adapter.AdapterConfig;
import dev.loraj.core.adapter.AdapterFactory;
import dev.loraj.core.adapter.AdapterGraph;
import dev.loraj.core.adapter.AdapterRegistry;
import dev.loraj.core.adapter.AdapterSpec;
import dev.loraj.core.adapter.BiasMode;
import dev.loraj.core.adapter.SiteInit;
import dev.loraj.core.engine.MemoryLedger;
import dev.loraj.core.engine.NativeMemoryGuard;
import dev.loraj.core.graph.Graphs;
import dev.loraj.core.graph.ReplayCache;
import dev.loraj.core.quant.QuantizedWeight;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.function.BiConsumer;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A base model with named adapters: add, activate (one or several), disable, delete, merge,
 * unmerge, merge-and-unload, mixed-batch inference. The model's forward graph is rebuilt from the
 * current state whenever it is needed, so there is no hidden wiring to keep consistent.
 *
 * <p>Frozen base weights are SameDiff constants; adapter parameters (and the base tensors of
 * {@code modules_to_save} / trained biases) are variables whose arrays the trainer updates in
 * place.
 *
 * <p>A site may hold its frozen weight quantized ({@link BaseModel#quantizedWeights()}, see
 * {@link #storeQuantized}); any adapter composes with it. Merging into a quantized site
 * dequantizes, adds and requantizes with the site's format (as PEFT does for bitsandbytes
 * layers): rounding makes the merged model differ from the unmerged one, and a warning says so.
 * {@link #unmerge} restores the exact quantized weight the merge replaced, and
 * {@link #mergeAndUnload} exports float weights, {@code deq(W) + dW}, without rounding.
 */
public final class PeftModel {

  /** Name for "no adapter" in mixed-batch inference (PEFT's {@code __base__}). */
  public static final String BASE = "__base__";

  private static final Logger log = LoggerFactory.getLogger(PeftModel.class);

  private final BaseModel base;
  private final AdapterRegistry registry;
  private final Map<String, NamedAdapter> adapters = new LinkedHashMap<>();
  /** Names of the merged adapters, first merged first (unmerging goes backwards). */
  private final List<String> mergeOrder = new ArrayList<>();
  private final Set<String> trainableBase = new LinkedHashSet<>();
  private List<String> active = List.of();
  private boolean disabled;
  private ModelGraph.BaseLinear baseLinear;
  /** Bumped by every change of structure; inference graphs are cached per version. */
  private long version;
  private final Map<List<String>, Built> inferenceCache = new HashMap<>();
  /** Replay plans of the cached plain inference graph (see Graphs.output). */
  private final ReplayCache inferenceReplay = new ReplayCache();
  private long cacheVersion = -1;
  /** Mean {@code x^T x} of each site's inputs from {@link #calibrate}, by site path, [in, in]. */
  private final Map<String, INDArray> inputCovariances = new LinkedHashMap<>();

  /** One named adapter: its spec, factory and per-site state. */
  public static final class NamedAdapter {
    private final String name;
    private final AdapterSpec spec;
    private final AdapterFactory<?> factory;
    private final Map<String, Adapter> sites;
    private final Map<String, INDArray> modulesToSave;
    private boolean merged;
    /** Quantized sites this adapter's merge requantized: site path -> {before, after}. */
    private final Map<String, QuantizedWeight[]> requantized = new HashMap<>();

    NamedAdapter(String name, AdapterSpec spec, AdapterFactory<?> factory, Map<String, Adapter> sites,
        Map<String, INDArray> modulesToSave) {
      this.name = name;
      this.spec = spec;
      this.factory = factory;
      this.sites = Collections.unmodifiableMap(sites);
      this.modulesToSave = Collections.unmodifiableMap(new LinkedHashMap<>(modulesToSave));
    }

    public String name() {
      return name;
    }

    public AdapterSpec spec() {
      return spec;
    }

    public AdapterFactory<?> factory() {
      return factory;
    }

    /** Adapter state by site path, in model order. */
    public Map<String, Adapter> sites() {
      return sites;
    }

    public boolean merged() {
      return merged;
    }

    /**
     * This adapter's own copies of its {@code modules_to_save} tensors, by base weight name:
     * trained and saved with it, used instead of the base tensors while it is active.
     */
    public Map<String, INDArray> modulesToSave() {
      return modulesToSave;
    }

    /**
     * Parameters of all sites (an array several sites share, by identity, counts once) and the
     * {@code modules_to_save} copies.
     */
    public long trainableParameters() {
      Set<INDArray> seen = Collections.newSetFromMap(new IdentityHashMap<>());
      return sites.values().stream()
          .flatMap(a -> a.parameters().values().stream())
          .filter(seen::add)
          .mapToLong(INDArray::length)
          .sum() + modulesToSave.values().stream().mapToLong(INDArray::length).sum();
    }
  }

  public PeftModel(BaseModel base, AdapterRegistry registry) {
    this.base = base;
    this.registry = registry;
  }

  public BaseModel base() {
    return base;
  }

  public AdapterRegistry registry() {
    return registry;
  }

  /** Computes frozen linear outputs for non-dense bases (a quantized weight); null for dense. */
  public void setBaseLinear(ModelGraph.BaseLinear baseLinear) {
    version++;
    this.baseLinear = baseLinear;
  }

  // ---------------------------------------------------------------- adapters

  /**
   * Adds adapter {@code name}; the first adapter added becomes active. If creation fails at any
   * site, base weights rewritten so far are restored and nothing is added.
   */
  public NamedAdapter addAdapter(String name, AdapterSpec spec, long seed) {
    if (name == null || name.isBlank() || name.equals(BASE) || name.contains("/")) {
      throw new IllegalArgumentException("adapter name '" + name + "' is not allowed");
    }
    if (adapters.containsKey(name)) {
      throw new IllegalArgumentException("an adapter named '" + name + "' already exists");
    }
    AdapterFactory<?> factory = registry.forConfig(spec.config());
    List<LinearSite> selected = spec.targets().resolve(base.linearSites());
    Map<String, Frozen> originals = new LinkedHashMap<>();
    Map<String, Adapter> created = new LinkedHashMap<>();
    Map<Class<?>, Object> shared = new HashMap<>(); // SiteInit.shared: one per addAdapter call
    try {
      for (LinearSite site : selected) {
        AdapterConfig cfg = spec.config();
        int r = spec.targets().rankFor(site, cfg.rank());
        double alpha = spec.targets().alphaFor(site, cfg.alpha());
        if (r != cfg.rank() || alpha != cfg.alpha()) {
          cfg = cfg.withRankAndAlpha(r, alpha);
        }
        created.put(site.path(), factory.createUnchecked(cfg, new Init(name, site, seed, originals, shared)));
      }
    } catch (RuntimeException e) {
      originals.forEach(this::restoreFrozen);
      throw e;
    }
    Set<String> candidates = new LinkedHashSet<>(base.weights().keySet());
    base.quantizedWeights().forEach((w, q) -> {
      if (!q.format().blockwise()) {
        candidates.add(w);
      }
    });
    // an adapter's copies of modules_to_save are trained, so float32
    spec.targets().resolveModulesToSave(candidates).forEach(this::widenIfHalf);
    Map<String, INDArray> modules = ModulesToSave.copies(base, spec);
    Set<String> extra = new LinkedHashSet<>();
    BiasMode bias = spec.config().bias();
    for (LinearSite s : base.linearSites()) {
      boolean take = bias == BiasMode.ALL || (bias == BiasMode.LORA_ONLY && created.containsKey(s.path()));
      if (take && s.hasBias()) {
        extra.add(s.biasName());
      }
    }
    trainableBase.addAll(extra);
    version++;
    NamedAdapter added = new NamedAdapter(name, spec, factory, created, modules);
    adapters.put(name, added);
    if (active.isEmpty()) {
      active = List.of(name);
    }
    return added;
  }

  public NamedAdapter adapter(String name) {
    NamedAdapter a = adapters.get(name);
    if (a == null) {
      throw new IllegalArgumentException("no adapter named '" + name + "'; adapters: " + adapters.keySet());
    }
    return a;
  }

  public List<String> adapterNames() {
    return List.copyOf(adapters.keySet());
  }

  /**
   * Registers an adapter built elsewhere (a combination); its {@code modules_to_save} copies, if
   * its spec names any, start as copies of the base.
   */
  public NamedAdapter putAdapter(String name, AdapterSpec spec, Map<String, Adapter> sites) {
    return putAdapter(name, spec, sites, ModulesToSave.copies(base, spec));
  }

  /**
   * Registers an adapter built elsewhere (a loaded checkpoint) with its own {@code modules_to_save}
   * tensors by base weight name (each of the base tensor's shape; not copied).
   */
  public NamedAdapter putAdapter(String name, AdapterSpec spec, Map<String, Adapter> sites,
      Map<String, INDArray> modulesToSave) {
    if (adapters.containsKey(name) || name.equals(BASE)) {
      throw new IllegalArgumentException("an adapter named '" + name + "' already exists");
    }
    modulesToSave.forEach((w, v) -> {
      INDArray b = base.weights().get(w);
      if (b == null || !java.util.Arrays.equals(b.shape(), v.shape())) {
        throw new IllegalArgumentException("modules_to_save tensor '" + w + "' of adapter '" + name + "' has shape "
            + java.util.Arrays.toString(v.shape()) + "; the base " + (b == null ? "has no such weight"
            : "weight is " + java.util.Arrays.toString(b.shape())));
      }
    });
    version++;
    NamedAdapter a = new NamedAdapter(name, spec, registry.forConfig(spec.config()), new LinkedHashMap<>(sites),
        modulesToSave);
    adapters.put(name, a);
    if (active.isEmpty()) {
      active = List.of(name);
    }
    return a;
  }

  public void setActive(String... names) {
    version++;
    for (String n : names) {
      adapter(n);
    }
    active = List.of(names);
  }

  public List<String> active() {
    return active;
  }

  /** Base output only (adapters kept). Merged adapters must be unmerged first. */
  public void disableAdapters() {
    version++;
    List<String> merged = adapters.values().stream().filter(a -> a.merged).map(a -> a.name).toList();
    if (!merged.isEmpty()) {
      throw new IllegalStateException("adapters " + merged + " are merged into the base: unmerge() before disabling");
    }
    disabled = true;
  }

  public void enableAdapters() {
    version++;
    disabled = false;
  }

  public boolean adaptersDisabled() {
    return disabled;
  }

  /** Removes an adapter (unmerging it first if merged). A rewritten base (PiSSA) stays rewritten. */
  public void deleteAdapter(String name) {
    version++;
    NamedAdapter a = adapter(name);
    if (a.merged) {
      unmergeAlone(a);
    }
    adapters.remove(name);
    active = active.stream().filter(n -> !n.equals(name)).toList();
  }

  /**
   * Names of the base tensors trained with the adapters: biases (bias modes), tensors made
   * trainable with {@link #addTrainableBase}, and the {@code modules_to_save} of the active
   * adapters (whose arrays are the adapters' copies, see {@link #baseTensor}).
   */
  public Set<String> trainableBase() {
    Set<String> out = new LinkedHashSet<>(trainableBase);
    out.addAll(modulesInUse().keySet());
    return Collections.unmodifiableSet(out);
  }

  /**
   * The array the model computes with for base tensor {@code name}: the active adapter's
   * {@code modules_to_save} copy when it has one, else the base tensor.
   */
  public INDArray baseTensor(String name) {
    INDArray copy = modulesInUse().get(name);
    return copy != null ? copy : base.weights().get(name);
  }

  /** The {@code modules_to_save} copies in use: the active adapters' (none while disabled). */
  private Map<String, INDArray> modulesInUse() {
    return disabled ? Map.of() : ModulesToSave.inUse(active.stream().map(adapters::get).toList());
  }

  /** Makes base tensors trainable (full fine-tuning: every weight). */
  public void addTrainableBase(Set<String> weightNames) {
    version++;
    for (String w : weightNames) {
      widenIfHalf(w);
      if (base.quantizedWeights().containsKey(w)) {
        throw new IllegalArgumentException("base weight '" + w + "' is quantized and cannot be"
            + " trained; store a float copy (storeTorchLayout) first");
      }
      if (!base.weights().containsKey(w)) {
        throw new IllegalArgumentException("no base weight '" + w + "'");
      }
    }
    trainableBase.addAll(weightNames);
  }

  public long trainableParameters() {
    long n = 0;
    for (String a : active) {
      NamedAdapter na = adapters.get(a);
      if (!na.merged) {
        n += na.trainableParameters();
      }
    }
    for (String w : trainableBase) {
      n += base.weights().get(w).length();
    }
    for (String a : active) {
      n += adapters.get(a).modulesToSave.values().stream().mapToLong(INDArray::length).sum();
    }
    return n;
  }

  /**
   * Adds what this model holds to {@code ledger}: the parameters the trainer updates (active,
   * unmerged adapters' parameters and trainable base tensors) as trainable; the other dense base
   * weights, inactive or merged adapters' parameters and every adapter's buffers as frozen; each
   * quantized weight's codes and scales as quantized; calibration statistics and the inference
   * graphs' replay buffers as other.
   */
  public void addTo(MemoryLedger ledger) {
    for (String a : active) {
      NamedAdapter na = adapters.get(a);
      if (!na.merged) {
        na.sites.values().forEach(ad -> ledger.addAll(MemoryLedger.Category.TRAINABLE, ad.parameters().values()));
      }
    }
    for (String w : trainableBase) {
      ledger.add(MemoryLedger.Category.TRAINABLE, base.weights().get(w));
    }
    ledger.addAll(MemoryLedger.Category.TRAINABLE, modulesInUse().values());
    ledger.addAll(MemoryLedger.Category.FROZEN, base.weights().values());
    adapters.values().forEach(na -> ledger.addAll(MemoryLedger.Category.FROZEN, na.modulesToSave.values()));
    for (NamedAdapter na : adapters.values()) {
      for (Adapter ad : na.sites.values()) {
        ledger.addAll(MemoryLedger.Category.FROZEN, ad.parameters().values());
        ledger.addAll(MemoryLedger.Category.FROZEN, ad.buffers().values());
        ledger.addAll(MemoryLedger.Category.FROZEN, ad.heldArrays());
      }
    }
    base.quantizedWeights().values().forEach(q -> q.addTo(ledger));
    ledger.addAll(MemoryLedger.Category.OTHER, inputCovariances.values());
    inferenceReplay.addTo(ledger, MemoryLedger.Category.OTHER);
  }

  // ---------------------------------------------------------------- merging

  /** Merges the active adapters (or the named ones) into the base weights. */
  public void merge(String... names) {
    mergeInternal(names, false);
  }

  /** As {@link #merge}, but computes every merged weight first and refuses non-finite results. */
  public void safeMerge(String... names) {
    mergeInternal(names, true);
  }

  private void mergeInternal(String[] names, boolean safe) {
    List<String> which = names.length == 0 ? active : List.of(names);
    for (String n : which) {
      NamedAdapter a = adapter(n);
      if (a.merged) {
        log.warn("adapter '{}' is already merged; merging again changes nothing", n);
        continue;
      }
      Map<String, INDArray> mergedWeights = new LinkedHashMap<>();
      // held sites are rounded to their format at once, so the float merges never pile up
      Map<String, QuantizedWeight> mergedHeld = new LinkedHashMap<>();
      Map<String, QuantizedWeight> before = new LinkedHashMap<>();
      for (Adapter ad : a.sites.values()) {
        QuantizedWeight q = quantized(ad.site());
        if (q != null) {
          before.put(ad.site().path(), q);
        }
        INDArray w = torchLayout(ad.site());
        INDArray m = ad.merge(w, unmergedBase(ad.site(), w));
        if (safe && !Graphs.allFinite(m)) {
          throw new IllegalStateException(
              "safe merge of adapter '" + n + "' refused: merged weight of '" + ad.site().path()
                  + "' has non-finite values; the base is unchanged");
        }
        if (q != null) {
          mergedHeld.put(ad.site().path(),
              QuantizedWeight.quantize(m, q.format(), q.blockSize(), q.doubleQuantized()));
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
      mergedWeights.forEach((path, m) -> store(site(path), m, false));
      mergedHeld.forEach((path, q) -> base.quantizedWeights().put(site(path).weightName(), q));
      a.requantized.clear();
      before.forEach((path, q) -> a.requantized.put(path, new QuantizedWeight[] {q, quantized(site(path))}));
      a.merged = true;
      mergeOrder.add(n);
      version++;
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
      Adapter ad = adapters.get(mergeOrder.get(i)).sites.get(site.path());
      if (ad != null) {
        w = ad.unmerge(w);
      }
    }
    return w;
  }

  /** Restores the base weights of every merged adapter (last merged first). */
  public void unmerge() {
    while (!mergeOrder.isEmpty()) {
      unmergeOne(adapters.get(mergeOrder.get(mergeOrder.size() - 1)));
    }
  }

  /**
   * Unmerges {@code a} alone: the adapters merged after it are unmerged first and merged again
   * afterwards, because a merge may depend on what was merged before (several DoRA adapters).
   */
  private void unmergeAlone(NamedAdapter a) {
    int at = mergeOrder.indexOf(a.name);
    List<String> later = new ArrayList<>(mergeOrder.subList(at + 1, mergeOrder.size()));
    for (int i = later.size() - 1; i >= 0; i--) {
      unmergeOne(adapters.get(later.get(i)));
    }
    unmergeOne(a);
    if (!later.isEmpty()) {
      mergeInternal(later.toArray(String[]::new), false);
    }
  }

  /**
   * A quantized site still holding what this adapter's merge stored gets back the exact weight
   * the merge replaced; any other site is unmerged arithmetically (requantized if quantized).
   */
  private void unmergeOne(NamedAdapter a) {
    for (Adapter ad : a.sites.values()) {
      QuantizedWeight[] pair = a.requantized.get(ad.site().path());
      if (pair != null && quantized(ad.site()) == pair[1]) {
        base.quantizedWeights().put(ad.site().weightName(), pair[0]);
        version++;
        continue;
      }
      store(ad.site(), ad.unmerge(torchLayout(ad.site())), true);
    }
    a.requantized.clear();
    a.merged = false;
    mergeOrder.remove(a.name);
    version++;
  }

  /**
   * A new base model whose weights have the active adapters merged in; this model is left as it
   * was (PEFT's {@code merge_and_unload}, without mutating the receiver). Every weight of the
   * copy is float: a quantized site becomes {@code deq(W) + dW}, exactly, with no requantization.
   */
  public BaseModel mergeAndUnload() {
    List<NamedAdapter> toMerge = active.stream().map(adapters::get).filter(a -> !a.merged).toList();
    Map<String, INDArray> copy = new LinkedHashMap<>();
    base.weights().forEach((k, v) -> copy.put(k, v.dup()));
    modulesInUse().forEach((k, v) -> copy.put(k, v.dup())); // the active copy replaces the module
    for (LinearSite s : base.linearSites()) {
      List<Adapter> here = toMerge.stream().map(a -> a.sites.get(s.path())).filter(Objects::nonNull).toList();
      if (here.isEmpty() && quantized(s) == null) {
        continue;
      }
      INDArray w = torchLayout(s); // [out, in], dequantized when quantized
      INDArray unmerged = here.isEmpty() ? w : unmergedBase(s, w);
      for (Adapter ad : here) {
        w = ad.merge(w, unmerged);
      }
      copy.put(s.weightName(), (s.fanInFanOut() ? w.transpose() : w).dup('c').castTo(DataType.FLOAT));
    }
    return base.withWeights(copy);
  }

  LinearSite site(String path) {
    for (LinearSite s : base.linearSites()) {
      if (s.path().equals(path)) {
        return s;
      }
    }
    throw new IllegalArgumentException("no linear site '" + path + "'");
  }

  /** The site's frozen weight as a fresh [out, in] array (dequantized when held quantized). */
  public INDArray torchLayout(LinearSite site) {
    QuantizedWeight q = quantized(site);
    if (q != null) {
      return q.dequantize();
    }
    INDArray w = base.weights().get(site.weightName());
    if (w == null) {
      throw new IllegalStateException("linear site " + site.path() + " has no dense weight to merge into");
    }
    return site.fanInFanOut() ? w.transpose().dup('c') : w.dup('c');
  }

  /**
   * Replaces the site's weight with {@code w} [out, in], converted to the stored layout. A site
   * held quantized is requantized with its format, block size and double quantization (rounding
   * changes the values: logged as a warning).
   */
  public void storeTorchLayout(LinearSite site, INDArray w) {
    store(site, w, true);
  }

  private void store(LinearSite site, INDArray w, boolean warnRequantize) {
    version++;
    if (w.rank() != 2 || w.size(0) != site.out() || w.size(1) != site.in()) {
      throw new IllegalArgumentException(
          "weight for " + site.path() + " must be [" + site.out() + ", " + site.in() + "], got "
              + java.util.Arrays.toString(w.shape()));
    }
    QuantizedWeight q = quantized(site);
    if (q != null) {
      if (warnRequantize && q.format().blockwise()) {
        log.warn("requantizing '{}' ({}): rounding changes the stored weight", site.weightName(), q);
      }
      base.quantizedWeights().put(site.weightName(),
          QuantizedWeight.quantize(w, q.format(), q.blockSize(), q.doubleQuantized()));
      return;
    }
    INDArray stored = site.fanInFanOut() ? w.transpose().dup('c') : w.dup('c');
    base.weights().put(site.weightName(), stored.castTo(DataType.FLOAT));
  }

  /**
   * Holds weight {@code name} as a float32 array again when the base holds it in 16 bits (exact:
   * widening loses nothing), so it can be trained; anything else is left as it is.
   */
  private void widenIfHalf(String name) {
    QuantizedWeight q = base.quantizedWeights().get(name);
    if (q == null || q.format().blockwise()) {
      return;
    }
    for (LinearSite s : base.linearSites()) {
      if (s.weightName().equals(name)) {
        INDArray w = q.dequantize();
        base.weights().put(name, s.fanInFanOut() ? w.transpose().dup('c') : w);
        base.quantizedWeights().remove(name);
        version++;
        log.info("'{}' is trained: held in float32 instead of {}", name, q.format().json());
        return;
      }
    }
  }

  /** The site's quantized frozen weight ([out, in]), or {@code null} when it is dense. */
  public QuantizedWeight quantized(LinearSite site) {
    return base.quantizedWeights().get(site.weightName());
  }

  /**
   * Holds the site's frozen weight quantized ({@code q} is [out, in] whatever the stored
   * layout); the dense array leaves {@link BaseModel#weights()}, so its memory can be freed.
   *
   * @throws UnsupportedOperationException if the model family cannot hold quantized weights
   */
  public void storeQuantized(LinearSite site, QuantizedWeight q) {
    if (q.rows() != site.out() || q.cols() != site.in()) {
      throw new IllegalArgumentException("quantized weight for " + site.path() + " must be ["
          + site.out() + ", " + site.in() + "], got " + java.util.Arrays.toString(q.shape()));
    }
    if (trainableBase.contains(site.weightName())) {
      throw new IllegalArgumentException("base weight '" + site.weightName()
          + "' is trainable and cannot be quantized");
    }
    try {
      base.quantizedWeights().put(site.weightName(), q);
    } catch (UnsupportedOperationException e) {
      throw new UnsupportedOperationException("model family '" + base.family() + "' cannot hold"
          + " quantized weights: its BaseModel does not override quantizedWeights()", e);
    }
    base.weights().remove(site.weightName());
    version++;
  }

  /** A site's frozen weight as it is stored now: dense or quantized (to restore on failure). */
  private record Frozen(INDArray dense, QuantizedWeight quantized) {}

  private Frozen frozen(LinearSite site) {
    return new Frozen(base.weights().get(site.weightName()), quantized(site));
  }

  private void restoreFrozen(String weightName, Frozen f) {
    version++;
    if (f.quantized() != null) {
      base.quantizedWeights().put(weightName, f.quantized());
      base.weights().remove(weightName);
    } else {
      if (base.quantizedWeights().containsKey(weightName)) {
        base.quantizedWeights().remove(weightName);
      }
      base.weights().put(weightName, f.dense());
    }
  }

  // ---------------------------------------------------------------- graphs and inference

  /** The variables of a built graph that the optimizer updates, and where their arrays live. */
  public record TrainableVar(String varName, INDArray array, String adapter, String site, String key,
      double lrMultiplier) {
    public boolean isBase() {
      return adapter == null;
    }
  }

  /**
   * A forward graph built from the current state; {@code blocks} are the op names of each
   * transformer block the family marked ({@link ModelGraph#beginBlock}), empty if none.
   */
  public record Built(SameDiff sd, SDVariable output, List<String> inputs, List<TrainableVar> trainable,
      List<String> maskInputs, SDVariable regularization, List<Set<String>> blocks) {}

  /**
   * Builds the forward graph.
   *
   * @param training dropout on, regularization terms collected
   * @param mixed adapters gated per example through mask placeholders {@code mask/<name>}, or
   *     {@code null} for ordinary active-adapter inference
   */
  public Built build(boolean training, List<String> mixed) {
    return build(training, mixed, null);
  }

  /** As {@link #build(boolean, List)}; {@code siteInputs} (if not null) sees every site's input. */
  private Built build(boolean training, List<String> mixed, BiConsumer<LinearSite, SDVariable> siteInputs) {
    SameDiff sd = Graphs.newSameDiff();
    List<TrainableVar> trainable = new ArrayList<>();
    Map<String, SDVariable> masks = new LinkedHashMap<>();
    List<SDVariable> regs = new ArrayList<>();
    List<String> branchNames;
    if (mixed != null) {
      branchNames = new ArrayList<>(new LinkedHashSet<>(mixed));
      branchNames.remove(BASE);
      branchNames.forEach(this::adapter);
    } else {
      branchNames = disabled ? List.of() : active.stream().filter(n -> !adapters.get(n).merged).toList();
    }
    Map<String, SDVariable> adapterVars = new HashMap<>();
    Map<INDArray, SDVariable> byArray = new IdentityHashMap<>(); // parameters shared by sites
    ModelGraph.SiteHook hook = (g, site, x, baseOut) -> {
      if (siteInputs != null) {
        siteInputs.accept(site, x);
      }
      SDVariable sum = null;
      for (String an : branchNames) {
        Adapter ad = adapters.get(an).sites.get(site.path());
        if (ad == null) {
          continue;
        }
        GraphView view = new GraphView(g, an, ad, adapterVars, byArray, trainable, training);
        // each adapter sees the output so far, as in PEFT (only DoRA reads it: several DoRA
        // adapters on one site rescale in turn, which is what merging them one by one gives)
        SDVariable c = ad.forward(view, x, sum == null ? baseOut : baseOut.add(sum));
        if (mixed != null) {
          SDVariable mask = masks.computeIfAbsent(an,
              k -> sd.placeHolder("mask/" + k, DataType.FLOAT, -1, 1));
          c = c.mul(mask);
        }
        if (training) {
          SDVariable r = ad.regularization(view);
          if (r != null) {
            regs.add(r);
          }
        }
        sum = sum == null ? c : sum.add(c);
      }
      return sum == null ? baseOut : baseOut.add(sum);
    };
    Map<String, INDArray> modules;
    if (mixed == null) {
      modules = modulesInUse();
    } else {
      modules = Map.of();
      for (String an : branchNames) {
        if (!adapters.get(an).modulesToSave.isEmpty()) {
          throw new IllegalArgumentException("mixed-batch inference through adapter '" + an + "' is not"
              + " supported: it holds modules_to_save copies " + adapters.get(an).modulesToSave.keySet()
              + ", which replace whole modules; run its rows with setActive instead");
        }
      }
    }
    Set<String> trainableNames = new LinkedHashSet<>(trainableBase);
    trainableNames.addAll(modules.keySet());
    ModelGraph mg = new ModelGraph(sd, base, trainableNames, training, hook, baseLinear, modules);
    ModelOutput out = base.build(mg);
    for (String w : trainableNames) {
      if (sd.hasVariable(w)) {
        trainable.add(new TrainableVar(w, modules.getOrDefault(w, base.weights().get(w)), null, null, w, 1.0));
      }
    }
    SDVariable reg = null;
    for (SDVariable r : regs) {
      reg = reg == null ? r : reg.add(r);
    }
    return new Built(sd, out.output(), out.inputs(), trainable,
        masks.keySet().stream().map(k -> "mask/" + k).toList(), reg, mg.blocks());
  }

  /** The model output with the active adapters (or the base if disabled). */
  public INDArray output(Map<String, INDArray> inputs) {
    Built b = cachedInference(null);
    NativeMemoryGuard.check(); // evaluation loops leave one output per batch for the GC
    return Graphs.output(b.sd(), inputs, b.output().name(), inferenceReplay);
  }

  /**
   * Mixed-batch inference: row i of the batch uses adapter {@code perExample.get(i)}
   * ({@link #BASE} for none).
   */
  public INDArray outputMixed(Map<String, INDArray> inputs, List<String> perExample) {
    long batch = base.batchSize(inputs);
    if (perExample.size() != batch) {
      throw new IllegalArgumentException(
          "mixed batch: " + perExample.size() + " adapter names for " + batch + " examples");
    }
    Built b = cachedInference(perExample);
    int rows = base.rowsPerExample(inputs);
    Map<String, INDArray> ph = new HashMap<>(inputs);
    for (String maskName : b.maskInputs()) {
      String an = maskName.substring("mask/".length());
      float[] m = new float[(int) batch * rows];
      for (int i = 0; i < batch; i++) {
        if (perExample.get(i).equals(an)) {
          java.util.Arrays.fill(m, i * rows, (i + 1) * rows, 1f);
        }
      }
      ph.put(maskName, Nd4j.create(m, new long[] {m.length, 1}, 'c'));
    }
    return Graphs.output(b.sd(), ph, b.output().name());
  }

  /** The inference graph for the current state (rebuilt after any structural change). */
  public Built cachedInference(List<String> mixed) {
    if (cacheVersion != version) {
      inferenceCache.clear();
      inferenceReplay.close(); // the graph is rebuilt: its plans go now rather than at its next run
      cacheVersion = version;
    }
    List<String> key = mixed == null ? List.of() : new ArrayList<>(new LinkedHashSet<>(mixed));
    if (mixed != null) {
      key.add(0, "mixed:");
    }
    return inferenceCache.computeIfAbsent(key, k -> build(false, mixed));
  }

  // ---------------------------------------------------------------- calibration

  /**
   * Runs the model (as {@link #output} would: active adapters applied, no dropout) on
   * {@code batches} and records, for every linear site, the mean outer product of its input rows,
   * {@code C = (1/N) sum_rows x^T x} ([in, in], N = all rows of all batches seen by that site).
   * Data-aware inits read it through {@link SiteInit#inputCovariance()} when an adapter is added
   * afterwards (CorDA, arXiv 2406.05223, Sec. 3.1: "C = X X^T" of the layer's input activations).
   *
   * <p>Replaces any earlier calibration. The statistics are a snapshot: adding a base-rewriting
   * adapter later does not update them. Batch entries that are not graph inputs (targets) are
   * ignored.
   *
   * @param batches model inputs, e.g. {@code {"x": [n, in]}} for an MLP; at least one
   */
  public void calibrate(Iterable<Map<String, INDArray>> batches) {
    Map<String, List<String[]>> outputs = new LinkedHashMap<>(); // site -> [gram, rows] names
    Built b = build(false, null, (site, x) -> {
      List<String[]> hits = outputs.computeIfAbsent(site.path(), k -> new ArrayList<>());
      String prefix = "calibration/" + site.path() + "/" + hits.size();
      SameDiff sd = x.getSameDiff();
      SDVariable gram = sd.mmul(prefix + "/gram", x, x, true, false, false); // [in, n] x [n, in]
      SDVariable rows = sd.sizeAt(prefix + "/rows", x, 0);
      hits.add(new String[] {gram.name(), rows.name()});
    });
    List<String> names = new ArrayList<>();
    outputs.values().forEach(l -> l.forEach(pair -> names.addAll(List.of(pair))));
    Map<String, INDArray> sums = new LinkedHashMap<>();
    Map<String, Long> counts = new LinkedHashMap<>();
    int seen = 0;
    for (Map<String, INDArray> batch : batches) {
      Map<String, INDArray> ph = new HashMap<>();
      for (String in : b.inputs()) {
        if (batch.containsKey(in)) {
          ph.put(in, batch.get(in));
        }
      }
      Map<String, INDArray> res = b.sd().output(ph, names.toArray(String[]::new));
      outputs.forEach((path, hits) -> {
        for (String[] pair : hits) {
          INDArray g = res.get(pair[0]).castTo(DataType.DOUBLE);
          sums.merge(path, g, INDArray::addi);
          counts.merge(path, res.get(pair[1]).getLong(0), Long::sum);
        }
      });
      seen++;
    }
    if (seen == 0) {
      throw new IllegalArgumentException("calibrate: batches is empty; give at least one batch of model inputs");
    }
    inputCovariances.clear();
    sums.forEach((path, sum) -> {
      long n = counts.get(path);
      if (n > 0) {
        inputCovariances.put(path, sum.divi(n).castTo(DataType.FLOAT));
      }
    });
  }

  /** The calibrated input covariance of site {@code path} ([in, in], a copy), if any. */
  public Optional<INDArray> inputCovariance(String path) {
    return Optional.ofNullable(inputCovariances.get(path)).map(INDArray::dup);
  }

  /** Forgets the statistics of {@link #calibrate}. */
  public void clearCalibration() {
    inputCovariances.clear();
  }

  // ---------------------------------------------------------------- internals

  private final class Init implements SiteInit {
    private final String adapterName;
    private final LinearSite site;
    private final long seed;
    private final Map<String, Frozen> originals;
    private final Map<Class<?>, Object> shared;

    Init(String adapterName, LinearSite site, long seed, Map<String, Frozen> originals,
        Map<Class<?>, Object> shared) {
      this.adapterName = adapterName;
      this.site = site;
      this.seed = Hashing.murmur3_128().newHasher()
          .putLong(seed)
          .putString(adapterName, StandardCharsets.UTF_8)
          .putString(site.path(), StandardCharsets.UTF_8)
          .hash().asLong();
      this.originals = originals;
      this.shared = shared;
    }

    @Override
    public String adapterName() {
      return adapterName;
    }

    @Override
    public LinearSite site() {
      return site;
    }

    @Override
    public INDArray baseWeight() {
      return torchLayout(site);
    }

    @Override
    public Optional<QuantizedWeight> heldBase() {
      return Optional.ofNullable(quantized(site));
    }

    @Override
    public SplittableRandom random() {
      return new SplittableRandom(seed);
    }

    @Override
    public long seed() {
      return seed;
    }

    @Override
    public Optional<INDArray> inputCovariance() {
      return PeftModel.this.inputCovariance(site.path());
    }

    @Override
    public void rewriteBase(INDArray weight) {
      originals.putIfAbsent(site.weightName(), frozen(site));
      storeTorchLayout(site, weight);
    }

    @Override
    public void rewriteBase(QuantizedWeight weight) {
      originals.putIfAbsent(site.weightName(), frozen(site));
      storeQuantized(site, weight);
    }

    @Override
    public Optional<Adapter> otherAdapter(String name) {
      NamedAdapter na = adapters.get(name);
      return na == null ? Optional.empty() : Optional.ofNullable(na.sites().get(site.path()));
    }

    @Override
    public <T> T shared(Class<T> type, java.util.function.Supplier<? extends T> create) {
      return type.cast(shared.computeIfAbsent(type, k -> create.get()));
    }
  }

  private final class GraphView implements AdapterGraph {
    private final ModelGraph g;
    private final String adapterName;
    private final Adapter adapter;
    private final Map<String, SDVariable> vars;
    private final Map<INDArray, SDVariable> byArray;
    private final List<TrainableVar> trainable;
    private final boolean training;

    GraphView(ModelGraph g, String adapterName, Adapter adapter, Map<String, SDVariable> vars,
        Map<INDArray, SDVariable> byArray, List<TrainableVar> trainable, boolean training) {
      this.g = g;
      this.adapterName = adapterName;
      this.adapter = adapter;
      this.vars = vars;
      this.byArray = byArray;
      this.trainable = trainable;
      this.training = training;
    }

    @Override
    public SameDiff sd() {
      return g.sd();
    }

    /**
     * The graph variable of a parameter. An array that several sites return (the same object,
     * e.g. the random-subspace method's theta_d) becomes one variable, created at the first site
     * that asks: its gradient sums over the sites and the optimizer updates it once per step.
     */
    @Override
    public SDVariable param(String key) {
      String var = name(key);
      SDVariable v = vars.get(var);
      if (v == null) {
        INDArray arr = adapter.parameters().get(key);
        if (arr == null) {
          throw new IllegalArgumentException(
              "adapter at " + adapter.site().path() + " has no parameter '" + key + "'");
        }
        SDVariable shared = byArray.get(arr);
        if (shared != null) {
          vars.put(var, shared);
          return shared;
        }
        v = g.sd().var(var, arr);
        byArray.put(arr, v);
        vars.put(var, v);
        trainable.add(new TrainableVar(var, arr, adapterName, adapter.site().path(), key,
            adapter.learningRateMultipliers().getOrDefault(key, 1.0)));
      }
      return v;
    }

    @Override
    public SDVariable buffer(String key) {
      String var = name(key);
      SDVariable v = vars.get(var);
      if (v == null) {
        INDArray arr = adapter.buffers().get(key);
        if (arr == null) {
          throw new IllegalArgumentException(
              "adapter at " + adapter.site().path() + " has no buffer '" + key + "'");
        }
        v = g.sd().constant(var, arr);
        vars.put(var, v);
      }
      return v;
    }

    @Override
    public SDVariable constant(String key, INDArray value) {
      return g.sd().constant(name(key), value);
    }

    @Override
    public SDVariable baseWeight() {
      return g.weight(adapter.site().weightName());
    }

    @Override
    public SDVariable baseBias() {
      return adapter.site().hasBias() ? g.weight(adapter.site().biasName()) : null;
    }

    @Override
    public boolean training() {
      return training;
    }

    @Override
    public String name(String suffix) {
      return adapterName + "/" + adapter.site().path() + "/" + suffix;
    }
  }
}
