package dev.loraj.core.model;

import dev.loraj.core.adapter.Adapter;
import dev.loraj.core.adapter.AdapterFactory;
import dev.loraj.core.adapter.AdapterRegistry;
import dev.loraj.core.adapter.AdapterSpec;
import dev.loraj.core.adapter.BiasMode;
import dev.loraj.core.adapter.SiteInit;
import dev.loraj.core.engine.MemoryLedger;
import dev.loraj.core.quant.QuantizedWeight;
import java.util.Collections;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.ndarray.INDArray;

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

  private final BaseModel base;
  private final AdapterRegistry registry;
  /** The adapters by name, in the order they were added. */
  final Map<String, NamedAdapter> adapters = new LinkedHashMap<>();
  /** Base tensors trained with the adapters (biases, full fine-tuning), by weight name. */
  final Set<String> trainableBase = new LinkedHashSet<>();
  private List<String> active = List.of();
  private boolean disabled;
  private ModelGraph.BaseLinear baseLinear;
  /** Bumped by every change of structure; inference graphs are cached per version. */
  private long version;
  private final SiteWeights weights = new SiteWeights(this);
  private final AdapterMerge merging = new AdapterMerge(this, weights);
  private final ForwardGraph graphs = new ForwardGraph(this);
  private final InferenceGraphs inference = new InferenceGraphs(this, graphs);
  private final InputCalibration calibration = new InputCalibration(graphs);

  /** One named adapter: its spec, factory and per-site state. */
  public static final class NamedAdapter {
    private final String name;
    private final AdapterSpec spec;
    private final AdapterFactory<?> factory;
    private final Map<String, Adapter> sites;
    private final Map<String, INDArray> modulesToSave;
    /** Set and cleared by {@link AdapterMerge}. */
    boolean merged;
    /** Quantized sites this adapter's merge requantized: site path -> {before, after}. */
    final Map<String, QuantizedWeight[]> requantized = new HashMap<>();

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

  ModelGraph.BaseLinear baseLinear() {
    return baseLinear;
  }

  /** Records a change of structure (adapters, activity, base weights): cached graphs are stale. */
  void changed() {
    version++;
  }

  long version() {
    return version;
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
    Map<String, Adapter> created = AdapterSiteInit.createAll(this, weights, name, spec, factory, seed);
    // an adapter's copies of modules_to_save are trained, so float32
    weights.widenModulesToSave(spec);
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
      merging.unmergeAlone(a);
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
  Map<String, INDArray> modulesInUse() {
    return disabled ? Map.of() : ModulesToSave.inUse(active.stream().map(adapters::get).toList());
  }

  /** Makes base tensors trainable (full fine-tuning: every weight). */
  public void addTrainableBase(Set<String> weightNames) {
    version++;
    for (String w : weightNames) {
      weights.widenIfHalf(w);
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
    return ModelMemory.trainableParameters(this);
  }

  /**
   * Adds what this model holds to {@code ledger}: the parameters the trainer updates (active,
   * unmerged adapters' parameters and trainable base tensors) as trainable; the other dense base
   * weights, inactive or merged adapters' parameters and every adapter's buffers as frozen; each
   * quantized weight's codes and scales as quantized; calibration statistics and the inference
   * graphs' replay buffers as other.
   */
  public void addTo(MemoryLedger ledger) {
    ModelMemory.addTo(this, ledger);
    calibration.addTo(ledger);
    inference.addTo(ledger);
  }

  // ---------------------------------------------------------------- merging

  /** Merges the active adapters (or the named ones) into the base weights. */
  public void merge(String... names) {
    merging.merge(names, false);
  }

  /** As {@link #merge}, but computes every merged weight first and refuses non-finite results. */
  public void safeMerge(String... names) {
    merging.merge(names, true);
  }

  /** Restores the base weights of every merged adapter (last merged first). */
  public void unmerge() {
    merging.unmergeAll();
  }

  /**
   * A new base model whose weights have the active adapters merged in; this model is left as it
   * was (PEFT's {@code merge_and_unload}, without mutating the receiver). Every weight of the
   * copy is float: a quantized site becomes {@code deq(W) + dW}, exactly, with no requantization.
   */
  public BaseModel mergeAndUnload() {
    return merging.mergeAndUnload();
  }

  // ---------------------------------------------------------------- frozen site weights

  LinearSite site(String path) {
    return weights.site(path);
  }

  /** The site's frozen weight as a fresh [out, in] array (dequantized when held quantized). */
  public INDArray torchLayout(LinearSite site) {
    return weights.torchLayout(site);
  }

  /**
   * Replaces the site's weight with {@code w} [out, in], converted to the stored layout. A site
   * held quantized is requantized with its format, block size and double quantization (rounding
   * changes the values: logged as a warning).
   */
  public void storeTorchLayout(LinearSite site, INDArray w) {
    weights.store(site, w, true);
  }

  /** The site's quantized frozen weight ([out, in]), or {@code null} when it is dense. */
  public QuantizedWeight quantized(LinearSite site) {
    return weights.quantized(site);
  }

  /**
   * Holds the site's frozen weight quantized ({@code q} is [out, in] whatever the stored
   * layout); the dense array leaves {@link BaseModel#weights()}, so its memory can be freed.
   *
   * @throws UnsupportedOperationException if the model family cannot hold quantized weights
   */
  public void storeQuantized(LinearSite site, QuantizedWeight q) {
    weights.storeQuantized(site, q);
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
   * transformer block the family marked ({@link ModelGraph#beginBlock}), empty if none;
   * {@code head} the frozen language-model head of {@link ModelOutput#head()}, or {@code null}.
   */
  public record Built(SameDiff sd, SDVariable output, List<String> inputs, List<TrainableVar> trainable,
      List<String> maskInputs, SDVariable regularization, List<Set<String>> blocks,
      ModelOutput.FrozenHead head) {
    /** The base model's output as it built it (output, inputs, frozen head if any). */
    public ModelOutput modelOutput() {
      return new ModelOutput(output, inputs, head);
    }
  }

  /**
   * Builds the forward graph.
   *
   * @param training dropout on, regularization terms collected
   * @param mixed adapters gated per example through mask placeholders {@code mask/<name>}, or
   *     {@code null} for ordinary active-adapter inference
   */
  public Built build(boolean training, List<String> mixed) {
    return graphs.build(training, mixed, null);
  }

  /** The model output with the active adapters (or the base if disabled). */
  public INDArray output(Map<String, INDArray> inputs) {
    return inference.output(inputs);
  }

  /**
   * Mixed-batch inference: row i of the batch uses adapter {@code perExample.get(i)}
   * ({@link #BASE} for none).
   */
  public INDArray outputMixed(Map<String, INDArray> inputs, List<String> perExample) {
    return inference.outputMixed(inputs, perExample);
  }

  /** The inference graph for the current state (rebuilt after any structural change). */
  public Built cachedInference(List<String> mixed) {
    return inference.cached(mixed);
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
    calibration.calibrate(batches);
  }

  /** The calibrated input covariance of site {@code path} ([in, in], a copy), if any. */
  public Optional<INDArray> inputCovariance(String path) {
    return calibration.inputCovariance(path);
  }

  /** Forgets the statistics of {@link #calibrate}. */
  public void clearCalibration() {
    calibration.clear();
  }
}
