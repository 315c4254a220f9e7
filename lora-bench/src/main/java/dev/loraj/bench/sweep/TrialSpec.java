package dev.loraj.bench.sweep;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.loraj.core.adapter.AdapterConfig;
import dev.loraj.core.model.Targets;
import dev.loraj.core.train.TrainConfig;

/**
 * One trial of a sweep: a variant (or a baseline) with a full config, a seed and a training budget.
 *
 * @param id stable file name: group slug, seed and a hash of the whole spec
 * @param group what the report aggregates over seeds (e.g. {@code lora r=8 a=16})
 * @param variant registry name, or {@code head_only} / {@code full_ft}
 * @param config the adapter config ({@code null} for baselines)
 * @param configJson its JSON form with {@code type} ({@code null} for baselines)
 * @param targets where the adapter goes ({@code null} for baselines)
 * @param train optimizer and schedule (seed included)
 * @param batchSize examples per micro-batch
 * @param specJson everything above as JSON (what the id hashes)
 */
public record TrialSpec(
    String id,
    String group,
    String variant,
    boolean baseline,
    AdapterConfig config,
    ObjectNode configJson,
    Targets targets,
    TrainConfig train,
    int batchSize,
    long seed,
    ObjectNode specJson) {

  public static final String HEAD_ONLY = "head_only";
  public static final String FULL_FT = "full_ft";

  public Integer rank() {
    return config == null ? null : config.rank();
  }
}
