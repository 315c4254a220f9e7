package dev.loraj.eval.task;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.List;

/** Builds a task from its config node ({@code kind} plus the kind's fields). */
public final class Tasks {
  private Tasks() {}

  public static final List<String> KINDS = List.of("synthetic", "text-classification");

  public static Task create(JsonNode spec) {
    String kind = spec.path("kind").asText("");
    return switch (kind) {
      case "synthetic" -> new SyntheticClassificationTask(
          spec.path("width").asInt(64), spec.path("classes").asInt(4), spec.path("shift_rank").asInt(4),
          spec.path("test_examples").asInt(1000), spec.path("seed").asLong(0));
      case "text-classification" -> {
        String model = spec.path("model").asText("minilm");
        if (!model.equals("minilm")) {
          throw new IllegalArgumentException("text-classification model '" + model + "': accepted minilm (the embedded all-MiniLM-L6-v2)");
        }
        yield new TextClassificationTask(spec.path("dataset").asText("sotu-party"), spec.path("max_length").asInt(64),
            spec.path("train_examples").asInt(0), spec.path("test_examples").asInt(0), spec.path("seed").asLong(0));
      }
      default -> throw new IllegalArgumentException("task kind '" + kind + "': accepted " + KINDS);
    };
  }
}
