package dev.loraj.core.adapter;

import dev.loraj.core.model.LinearSite;

/**
 * Service provider for one variant, found through {@link java.util.ServiceLoader}: adding a
 * variant is one class implementing this plus one line in
 * {@code META-INF/services/dev.loraj.core.adapter.AdapterFactory}.
 *
 * <p>Order of use (see {@link Adapter}): {@link #create} once per adapted linear site, then the
 * adapter's forward / regularization / afterStep / deltaWeight methods.
 *
 * @param <C> the variant's config record
 */
public interface AdapterFactory<C extends AdapterConfig> {

  /** Registry key: lower case, unique, used as the config's {@code type}. */
  String name();

  /** One line for {@code lora variants}: the method and its paper (arXiv id). */
  String description();

  Class<C> configType();

  /** The config a researcher gets without saying anything: the paper's or PEFT's defaults. */
  C defaultConfig();

  /**
   * Allocates the adapter's parameters for one site and runs its initialisation. An init that
   * rewrites the frozen base (PiSSA's residual, a quantized base) does so through
   * {@link SiteInit#rewriteBase(org.nd4j.linalg.api.ndarray.INDArray)} (dense) or
   * {@link SiteInit#rewriteBase(dev.loraj.core.quant.QuantizedWeight)} (quantized).
   */
  Adapter create(C config, SiteInit init);

  /** Closed-form count of trainable parameters this adapter adds at {@code site}. */
  long trainableParameters(C config, LinearSite site);

  /**
   * Closed-form count of trainable parameters this adapter adds over all of {@code sites} (one
   * config for all). The sum of the per-site counts, unless the variant shares parameters across
   * sites (the random-subspace method trains one vector for the whole model).
   */
  default long trainableParameters(C config, java.util.List<LinearSite> sites) {
    long n = 0;
    for (LinearSite s : sites) {
      n += trainableParameters(config, s);
    }
    return n;
  }

  /**
   * Values of the frozen arrays the adapters at {@code sites} hold beside their parameters
   * ({@link Adapter#buffers()} and {@link Adapter#heldArrays()}: VeRA's projections, LoRA-FA's
   * A), for the memory estimate; none by default.
   */
  default long frozenParameters(C config, java.util.List<LinearSite> sites) {
    return 0;
  }

  /** {@link #frozenParameters} for a config typed as {@link AdapterConfig}. */
  default long frozenParametersUnchecked(AdapterConfig config, java.util.List<LinearSite> sites) {
    return frozenParameters(configType().cast(config), sites);
  }

  /** Whether the model output is unchanged right after {@link #create} (most variants: yes). */
  default boolean identityAtInit(C config) {
    return true;
  }

  /**
   * Whether {@link #create} accepts an embedding site ({@code LinearSite#embedding()}: its
   * adapter's input is token ids, not features). False by default: a variant that adapts
   * embedding tables says so, and the model refuses the others with the variant and the module.
   */
  default boolean adaptsEmbeddings() {
    return false;
  }

  /** Whether {@link #create} replaces the frozen base weight (the conformance suite asks). */
  default boolean rewritesBase(C config) {
    return false;
  }

  /** Unchecked cast helper for callers holding a wildcard factory and a config of its type. */
  @SuppressWarnings("unchecked")
  default Adapter createUnchecked(AdapterConfig config, SiteInit init) {
    return create(configType().cast(config), init);
  }

  @SuppressWarnings("unchecked")
  default long trainableParametersUnchecked(AdapterConfig config, LinearSite site) {
    return trainableParameters(configType().cast(config), site);
  }

  @SuppressWarnings("unchecked")
  default long trainableParametersUnchecked(AdapterConfig config, java.util.List<LinearSite> sites) {
    return trainableParameters(configType().cast(config), sites);
  }
}
