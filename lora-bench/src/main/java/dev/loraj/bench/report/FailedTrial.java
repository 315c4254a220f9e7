package dev.loraj.bench.report;

import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.annotation.JsonNaming;

/** A trial with {@code status = failed}: listed in the report, never averaged. */
@JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
public record FailedTrial(String id, String group, String method, long seed, String error) {}
