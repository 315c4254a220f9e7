package dev.loraj.core.adapter;

/**
 * The typed configuration of one variant: a Java record, validated in its compact constructor.
 *
 * <p>Serialized with a {@code type} discriminator (the factory's registry name) by
 * {@link ConfigCodec}; field names are written in snake_case like PEFT's configs.
 */
public interface AdapterConfig {

  /** Rank r of the update (the maximum rank for rank-adaptive variants). */
  int rank();

  /** Alpha of the scaling {@code s = alpha / r} (or {@code alpha / sqrt(r)} with rsLoRA). */
  double alpha();

  /**
   * The same config with another rank and alpha: how {@code rank_pattern}/{@code alpha_pattern}
   * give one module its own values. Validation runs again on the copy.
   */
  AdapterConfig withRankAndAlpha(int rank, double alpha);

  /** Which base biases train with the adapter; none unless the variant's config says. */
  default BiasMode bias() {
    return BiasMode.NONE;
  }
}
