package dev.loraj.spark;

import dev.loraj.core.adapter.Adapter;
import dev.loraj.core.adapter.AdapterFactory;
import dev.loraj.core.adapter.SiteInit;
import dev.loraj.core.adapter.AdapterConfig;
import dev.loraj.core.model.LinearSite;

/**
 * A test variant ({@code type: crash}) whose adapter cannot be created: it throws an Error, which
 * the trial runner does not catch, so the Spark task itself fails (as when an executor is lost)
 * and the driver has to record the trial. Registered only on lora-spark's test classpath.
 */
public final class CrashingVariant implements AdapterFactory<CrashingVariant.CrashConfig> {

  /** Its own config type: the codec finds a variant's name from the config's class. */
  public record CrashConfig(int rank, double alpha) implements AdapterConfig {
    @Override
    public AdapterConfig withRankAndAlpha(int rank, double alpha) {
      return new CrashConfig(rank, alpha);
    }
  }

  @Override
  public String name() {
    return "crash";
  }

  @Override
  public String description() {
    return "test only: fails the Spark task";
  }

  @Override
  public Class<CrashConfig> configType() {
    return CrashConfig.class;
  }

  @Override
  public CrashConfig defaultConfig() {
    return new CrashConfig(8, 16);
  }

  @Override
  public Adapter create(CrashConfig config, SiteInit init) {
    throw new AssertionError("crash variant: the task dies here");
  }

  @Override
  public long trainableParameters(CrashConfig config, LinearSite site) {
    return (long) config.rank() * (site.in() + site.out());
  }
}
