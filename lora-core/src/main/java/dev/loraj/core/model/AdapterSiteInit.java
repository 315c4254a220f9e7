package dev.loraj.core.model;

import com.google.common.hash.Hashing;
import dev.loraj.core.adapter.Adapter;
import dev.loraj.core.adapter.AdapterConfig;
import dev.loraj.core.adapter.AdapterFactory;
import dev.loraj.core.adapter.AdapterSpec;
import dev.loraj.core.adapter.SiteInit;
import dev.loraj.core.model.PeftModel.NamedAdapter;
import dev.loraj.core.quant.QuantizedWeight;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.SplittableRandom;
import java.util.function.Supplier;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * What an adapter factory sees of a {@link PeftModel} while it creates one adapter at one site
 * ({@link SiteInit}): the frozen weight, calibration statistics, a seed derived from the model
 * seed, adapter name and site path, and the means to rewrite the base. Every rewrite first records
 * the weight it replaces in {@code originals}, so the model can restore all of them when creation
 * fails at a later site.
 */
final class AdapterSiteInit implements SiteInit {
  private final PeftModel model;
  private final SiteWeights weights;
  private final String adapterName;
  private final LinearSite site;
  private final long seed;
  private final Map<String, SiteWeights.Frozen> originals;
  private final Map<Class<?>, Object> shared;

  /**
   * @param originals receives, by weight name, each frozen weight before its first rewrite
   * @param shared objects shared by every site of one adapter, by type
   */
  private AdapterSiteInit(PeftModel model, SiteWeights weights, String adapterName, LinearSite site, long seed,
      Map<String, SiteWeights.Frozen> originals, Map<Class<?>, Object> shared) {
    this.model = model;
    this.weights = weights;
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

  /**
   * Creates adapter {@code name} at every site its spec selects, each with the rank and alpha the
   * targets give that site. If creation fails at any site, the base weights rewritten so far are
   * restored before the exception propagates.
   *
   * @return adapter state by site path, in model order
   */
  static Map<String, Adapter> createAll(PeftModel model, SiteWeights weights, String name, AdapterSpec spec,
      AdapterFactory<?> factory, long seed) {
    Map<String, SiteWeights.Frozen> originals = new LinkedHashMap<>();
    Map<String, Adapter> created = new LinkedHashMap<>();
    Map<Class<?>, Object> shared = new HashMap<>(); // SiteInit.shared: one per adapter
    List<LinearSite> selected = spec.targets().resolve(model.base().adapterSites());
    EmbeddingSites.check(factory, selected);
    try {
      for (LinearSite site : selected) {
        AdapterConfig cfg = spec.config();
        int r = spec.targets().rankFor(site, cfg.rank());
        double alpha = spec.targets().alphaFor(site, cfg.alpha());
        if (r != cfg.rank() || alpha != cfg.alpha()) {
          cfg = cfg.withRankAndAlpha(r, alpha);
        }
        created.put(site.path(), factory.createUnchecked(cfg,
            new AdapterSiteInit(model, weights, name, site, seed, originals, shared)));
      }
    } catch (RuntimeException e) {
      originals.forEach(weights::restoreFrozen);
      throw e;
    }
    return created;
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
    return weights.torchLayout(site);
  }

  @Override
  public Optional<QuantizedWeight> heldBase() {
    return Optional.ofNullable(weights.quantized(site));
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
    return model.inputCovariance(site.path());
  }

  @Override
  public void rewriteBase(INDArray weight) {
    originals.putIfAbsent(site.weightName(), weights.frozen(site));
    weights.store(site, weight, true);
  }

  @Override
  public void rewriteBase(QuantizedWeight weight) {
    originals.putIfAbsent(site.weightName(), weights.frozen(site));
    weights.storeQuantized(site, weight);
  }

  @Override
  public Optional<Adapter> otherAdapter(String name) {
    NamedAdapter na = model.adapters.get(name);
    return na == null ? Optional.empty() : Optional.ofNullable(na.sites().get(site.path()));
  }

  @Override
  public <T> T shared(Class<T> type, Supplier<? extends T> create) {
    return type.cast(shared.computeIfAbsent(type, k -> create.get()));
  }
}
