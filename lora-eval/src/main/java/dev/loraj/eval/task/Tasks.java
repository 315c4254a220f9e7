package dev.loraj.eval.task;

import com.fasterxml.jackson.databind.JsonNode;
import dev.loraj.core.config.ConfigNode;
import dev.loraj.eval.data.TextClassificationDataset;
import java.util.List;

/**
 * Builds a task from its config node ({@code kind} plus the kind's fields). {@link #check}
 * validates a node without building anything (keys, types, ranges, the data set id), so a config
 * file fails before any trial runs.
 */
public final class Tasks {
  private Tasks() {}

  public static final List<String> KINDS = List.of("synthetic", "text-classification");

  private static final List<String> SYNTHETIC_KEYS =
      List.of("kind", "width", "classes", "shift_rank", "test_examples", "seed");
  private static final List<String> TEXT_KEYS =
      List.of("kind", "dataset", "model", "max_length", "train_examples", "test_examples", "seed");

  /** A validated task node; {@code path} names it in errors ("task"). */
  public record Spec(String kind, int width, int classes, int shiftRank, String dataset, int maxLength,
      int trainExamples, int testExamples, long seed) {}

  /**
   * Validates {@code spec} (a mapping at {@code path}).
   *
   * @throws dev.loraj.core.config.ConfigException naming the key, the value and what is accepted
   */
  public static Spec check(JsonNode spec, String path) {
    ConfigNode n = ConfigNode.at(spec, path);
    if (!n.has("kind")) {
      throw new dev.loraj.core.config.ConfigException(path + ".kind is required (accepted: " + String.join(", ", KINDS) + ")");
    }
    String kind = n.choice("kind", null, KINDS);
    long seed = n.longValue("seed", 0, Long.MIN_VALUE, Long.MAX_VALUE);
    if (kind.equals("synthetic")) {
      n.keys(SYNTHETIC_KEYS);
      int width = n.integer("width", 64, 2, 4096);
      return new Spec(kind, width, n.integer("classes", 4, 2, 1000), n.integer("shift_rank", 4, 1, width),
          null, 0, 0, n.integer("test_examples", 1000, 1, 1_000_000), seed);
    }
    n.keys(TEXT_KEYS);
    n.choice("model", "minilm", List.of("minilm")); // the embedded all-MiniLM-L6-v2
    String dataset = n.choice("dataset", "sotu-party", TextClassificationDataset.available());
    return new Spec(kind, 0, 0, 0, dataset, n.integer("max_length", 64, 2, 512),
        n.integer("train_examples", 0, 0, Integer.MAX_VALUE), n.integer("test_examples", 0, 0, Integer.MAX_VALUE), seed);
  }

  public static Task create(JsonNode spec) {
    Spec s = check(spec, "task");
    return switch (s.kind()) {
      case "synthetic" -> new SyntheticClassificationTask(s.width(), s.classes(), s.shiftRank(), s.testExamples(), s.seed());
      default -> new TextClassificationTask(s.dataset(), s.maxLength(), s.trainExamples(), s.testExamples(), s.seed());
    };
  }
}
