package dev.loraj.bench.sweep;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import dev.loraj.core.adapter.ConfigCodec;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A sweep file (YAML or JSON):
 *
 * <pre>
 * name: quickstart
 * task: {kind: text-classification, dataset: sotu-party, model: minilm, max_length: 64}
 * train: {steps: 100, batch_size: 16, learning_rate: 1e-3, warmup_steps: 10, schedule: linear}
 * seeds: [1, 2, 3]
 * targets: {target_modules: [query, value]}
 * baselines:
 *   - {kind: head_only, learning_rate: 2e-3}
 *   - {kind: full_ft, learning_rate: 1e-4}
 * variants:
 *   - {type: lora, rank: [4, 8], alpha: 16}        # a list is a grid axis
 *   - {type: dora, rank: 8, learning_rate: [5e-4, 1e-3]}
 * sample: {count: 6, seed: 1}                      # optional: a random subset of the grid
 * </pre>
 *
 * In a variant entry, {@code type} names the variant, {@code learning_rate} and {@code targets}
 * override the sweep's, and every other key is a field of the variant's config; any of them may
 * be a list, which makes it an axis of the grid.
 */
public record SweepConfig(
    String name,
    JsonNode task,
    ObjectNode train,
    List<Long> seeds,
    JsonNode targets,
    List<ObjectNode> baselines,
    List<ObjectNode> variants,
    JsonNode sample,
    String primaryMetric) {

  public SweepConfig {
    if (name == null || name.isBlank()) {
      throw new IllegalArgumentException("sweep config: 'name' is required");
    }
    if (task == null || !task.isObject()) {
      throw new IllegalArgumentException("sweep config: 'task' is required (an object with 'kind')");
    }
    if (train == null) {
      throw new IllegalArgumentException("sweep config: 'train' is required (steps, batch_size, learning_rate)");
    }
    seeds = seeds == null || seeds.isEmpty() ? List.of(1L) : List.copyOf(seeds);
    baselines = baselines == null ? List.of() : List.copyOf(baselines);
    variants = variants == null ? List.of() : List.copyOf(variants);
    if (variants.isEmpty() && baselines.isEmpty()) {
      throw new IllegalArgumentException("sweep config: nothing to run (no 'variants' and no 'baselines')");
    }
  }

  static final List<String> KEYS =
      List.of("name", "task", "train", "seeds", "targets", "baselines", "variants", "sample", "primary_metric");

  public static SweepConfig read(Path file) throws IOException {
    if (!Files.isRegularFile(file)) {
      throw new IOException("sweep config " + file + " does not exist");
    }
    boolean json = file.toString().endsWith(".json");
    ObjectMapper m = ConfigCodec.configure(json ? new ObjectMapper() : new ObjectMapper(new YAMLFactory()));
    JsonNode root = m.readTree(file.toFile());
    return fromTree(root, m);
  }

  public static SweepConfig parse(String yaml) throws IOException {
    ObjectMapper m = ConfigCodec.configure(new ObjectMapper(new YAMLFactory()));
    return fromTree(m.readTree(yaml), m);
  }

  private static SweepConfig fromTree(JsonNode root, ObjectMapper m) {
    if (root == null || !root.isObject()) {
      throw new IllegalArgumentException("sweep config must be a mapping with keys " + KEYS);
    }
    root.fieldNames().forEachRemaining(k -> {
      if (!KEYS.contains(k)) {
        throw new IllegalArgumentException("sweep config: unknown key '" + k + "'; accepted keys: " + KEYS);
      }
    });
    List<Long> seeds = new ArrayList<>();
    if (root.has("seeds")) {
      root.get("seeds").forEach(s -> seeds.add(s.asLong()));
    }
    return new SweepConfig(
        root.path("name").asText(null),
        root.get("task"),
        (ObjectNode) root.get("train"),
        seeds,
        root.get("targets"),
        objects(root.get("baselines"), "baselines"),
        objects(root.get("variants"), "variants"),
        root.get("sample"),
        root.path("primary_metric").asText("accuracy"));
  }

  private static List<ObjectNode> objects(JsonNode n, String field) {
    List<ObjectNode> out = new ArrayList<>();
    if (n == null) {
      return out;
    }
    if (!n.isArray()) {
      throw new IllegalArgumentException("sweep config: '" + field + "' must be a list");
    }
    for (JsonNode e : n) {
      if (!e.isObject()) {
        throw new IllegalArgumentException("sweep config: every entry of '" + field + "' must be a mapping, got " + e);
      }
      out.add((ObjectNode) e);
    }
    return out;
  }
}
