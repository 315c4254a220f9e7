package dev.loraj.bench.sweep;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.google.common.hash.Hashing;
import dev.loraj.core.adapter.AdapterConfig;
import dev.loraj.core.adapter.AdapterRegistry;
import dev.loraj.core.adapter.ConfigCodec;
import dev.loraj.core.model.Targets;
import dev.loraj.core.train.TrainConfig;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;

/**
 * Expands a {@link SweepConfig} into its trials: the grid (lists are axes) of every variant entry,
 * times the entry's seeds (its own {@code seeds}, else the sweep's), plus the baselines; optionally a random sample of the grid. The order and the
 * ids depend only on the config, so every machine computes the same plan and {@code --shard I/N}
 * splits it without coordination.
 */
public final class SweepPlan {

  private final List<TrialSpec> trials;

  private SweepPlan(List<TrialSpec> trials) {
    this.trials = List.copyOf(trials);
  }

  public List<TrialSpec> trials() {
    return trials;
  }

  /** Trials of shard {@code index} (0-based) out of {@code count}: every count-th, from index. */
  public List<TrialSpec> shard(int index, int count) {
    if (count < 1 || index < 0 || index >= count) {
      throw new IllegalArgumentException("--shard " + (index + 1) + "/" + count + ": need 1 <= I <= N");
    }
    List<TrialSpec> out = new ArrayList<>();
    for (int i = index; i < trials.size(); i += count) {
      out.add(trials.get(i));
    }
    return out;
  }

  public static SweepPlan of(SweepConfig cfg, AdapterRegistry registry) {
    ConfigCodec codec = new ConfigCodec(registry);
    ObjectMapper m = codec.jsonMapper();
    for (Iterator<String> it = cfg.train().fieldNames(); it.hasNext(); ) {
      String k = it.next();
      if (!SweepConfig.TRAIN_KEYS.contains(k)) {
        throw new IllegalArgumentException("sweep config: unknown train key '" + k + "'; accepted: " + SweepConfig.TRAIN_KEYS);
      }
    }
    Targets defaultTargets = cfg.targets() == null ? null : readTargets(m, cfg.targets());
    List<TrialSpec> out = new ArrayList<>();
    for (ObjectNode b : cfg.baselines()) {
      String kind = b.path("kind").asText("");
      if (!kind.equals(TrialSpec.HEAD_ONLY) && !kind.equals(TrialSpec.FULL_FT)) {
        throw new IllegalArgumentException("baseline kind '" + kind + "': accepted head_only, full_ft");
      }
      for (ObjectNode point : grid(b)) {
        for (long seed : cfg.seedsOf(b)) {
          ObjectNode train = trainNode(cfg.train(), point);
          String group = kind + lrLabel(point);
          out.add(spec(m, cfg, group, kind, true, null, null, null, train, seed));
        }
      }
    }
    List<TrialSpec> variantTrials = new ArrayList<>();
    for (ObjectNode v : cfg.variants()) {
      if (!v.has("type")) {
        throw new IllegalArgumentException("variant entry " + v + " has no 'type'; registered: " + registry.names());
      }
      registry.get(v.get("type").asText()); // unknown names fail here, before any trial runs
      List<String> axes = new ArrayList<>();
      v.fields().forEachRemaining(e -> {
        if (e.getValue().isArray() && !SweepConfig.NOT_AXES.contains(e.getKey())) {
          axes.add(e.getKey());
        }
      });
      for (ObjectNode point : grid(v)) {
        ObjectNode cfgNode = point.deepCopy();
        cfgNode.remove("learning_rate");
        cfgNode.remove(SweepConfig.SEEDS);
        JsonNode tnode = cfgNode.remove("targets");
        Targets targets = tnode != null ? readTargets(m, tnode) : defaultTargets;
        if (targets == null) {
          throw new IllegalArgumentException("variant " + v.get("type").asText() + " has no targets: set 'targets' in the sweep or the entry");
        }
        AdapterConfig config = codec.fromTree(cfgNode);
        ObjectNode full = codec.toTree(config);
        String group = groupLabel(config, full, point, axes)
            + (tnode != null ? " targets=" + targets.targetModules() : "");
        for (long seed : cfg.seedsOf(v)) {
          ObjectNode train = trainNode(cfg.train(), point);
          variantTrials.add(spec(m, cfg, group, full.get("type").asText(), false, config, full, targets, train, seed));
        }
      }
    }
    if (cfg.sample() != null && cfg.sample().has("count")) {
      int count = cfg.sample().get("count").asInt();
      long seed = cfg.sample().path("seed").asLong(0);
      List<TrialSpec> shuffled = new ArrayList<>(variantTrials);
      Collections.shuffle(shuffled, new Random(seed));
      List<TrialSpec> keep = shuffled.subList(0, Math.min(count, shuffled.size()));
      variantTrials.removeIf(t -> !keep.contains(t));
    }
    out.addAll(variantTrials);
    String ref = cfg.reference();
    if (ref != null && out.stream().noneMatch(t -> t.group().equals(ref) || t.variant().equals(ref))) {
      throw new IllegalArgumentException("report.reference = '" + ref + "': no group or method of this sweep"
          + " has that name; groups: " + out.stream().map(TrialSpec::group).distinct().toList() + ", methods: "
          + out.stream().map(TrialSpec::variant).distinct().toList());
    }
    return new SweepPlan(out);
  }

  private static Targets readTargets(ObjectMapper m, JsonNode n) {
    try {
      return m.treeToValue(n, Targets.class);
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      Throwable c = e.getCause() != null ? e.getCause() : e;
      throw new IllegalArgumentException("invalid targets " + n + ": " + c.getMessage(), e);
    }
  }

  /** Cartesian product of the list-valued fields; scalar fields are copied into every point. */
  static List<ObjectNode> grid(ObjectNode entry) {
    List<ObjectNode> points = new ArrayList<>();
    points.add(entry.objectNode());
    for (Iterator<Map.Entry<String, JsonNode>> it = entry.fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> e = it.next();
      List<JsonNode> values = new ArrayList<>();
      if (e.getValue().isArray() && !SweepConfig.NOT_AXES.contains(e.getKey())) {
        ((ArrayNode) e.getValue()).forEach(values::add);
        if (values.isEmpty()) {
          throw new IllegalArgumentException("grid axis '" + e.getKey() + "' is an empty list");
        }
      } else {
        values.add(e.getValue());
      }
      List<ObjectNode> next = new ArrayList<>();
      for (ObjectNode p : points) {
        for (JsonNode val : values) {
          ObjectNode q = p.deepCopy();
          q.set(e.getKey(), val);
          next.add(q);
        }
      }
      points = next;
    }
    return points;
  }

  private static ObjectNode trainNode(ObjectNode base, ObjectNode point) {
    ObjectNode t = base.deepCopy();
    if (point.has("learning_rate")) {
      t.set("learning_rate", point.get("learning_rate"));
    }
    return t;
  }

  static TrainConfig trainConfig(JsonNode t, long seed) {
    int steps = t.path("steps").asInt(0);
    return new TrainConfig(
        steps,
        t.path("learning_rate").asDouble(0),
        t.path("weight_decay").asDouble(0),
        t.path("warmup_steps").asInt(0),
        TrainConfig.Schedule.valueOf(t.path("schedule").asText("linear").toUpperCase(Locale.ROOT)),
        t.path("max_grad_norm").asDouble(0),
        t.path("accumulation").asInt(1),
        0.9, 0.999, 1e-8, seed);
  }

  private static String lrLabel(ObjectNode point) {
    return point.has("learning_rate") ? " lr=" + point.get("learning_rate").asText() : "";
  }

  private static String groupLabel(AdapterConfig config, ObjectNode full, ObjectNode point, List<String> axes) {
    StringBuilder sb = new StringBuilder(full.get("type").asText());
    sb.append(" r=").append(config.rank());
    sb.append(" a=").append(fmt(config.alpha()));
    for (String axis : axes) {
      if (!axis.equals("rank") && !axis.equals("alpha") && point.has(axis)) {
        sb.append(' ').append(axis.equals("learning_rate") ? "lr" : axis).append('=').append(point.get(axis).asText());
      }
    }
    return sb.toString();
  }

  private static String fmt(double d) {
    return d == Math.rint(d) ? String.valueOf((long) d) : String.valueOf(d);
  }

  /**
   * One trial. Its id ends in a hash of everything that changes its result: the task (data set,
   * model, sizes, data seed), the metric, the method and its config, targets, train settings,
   * seed and a 16-bit base dtype; a trial of a changed definition never reuses another's file.
   */
  private static TrialSpec spec(ObjectMapper m, SweepConfig cfg, String group, String variant, boolean baseline,
      AdapterConfig config, ObjectNode configJson, Targets targets, ObjectNode train, long seed) {
    TrainConfig tc = trainConfig(train, seed);
    int batch = train.path("batch_size").asInt(0);
    if (batch <= 0) {
      throw new IllegalArgumentException("train.batch_size = " + batch + ": must be > 0");
    }
    ObjectNode specJson = m.createObjectNode();
    specJson.put("group", group);
    specJson.put("variant", variant);
    specJson.put("baseline", baseline);
    specJson.set("config", configJson);
    specJson.set("targets", targets == null ? null : m.valueToTree(targets));
    specJson.set("train", train);
    specJson.put("seed", seed);
    if (cfg.baseDtype().heldFormat().isPresent()) { // float32 bases keep the ids they always had
      specJson.put("base_dtype", cfg.baseDtype().json());
    }
    ObjectNode identity = specJson.deepCopy();
    identity.set("task", cfg.task());
    ((ObjectNode) identity.get("train")).remove(SweepConfig.CHECKPOINT_EVERY);
    identity.put("primary_metric", cfg.primaryMetric());
    String hash = Hashing.sha256().hashString(canonical(m, identity), StandardCharsets.UTF_8).toString().substring(0, 8);
    String id = slug(group) + "-s" + seed + "-" + hash;
    return new TrialSpec(id, group, variant, baseline, config, configJson, targets, tc, batch, seed, specJson);
  }

  static String canonical(ObjectMapper m, JsonNode n) {
    try {
      Object tree = m.treeToValue(n, Object.class); // maps become LinkedHashMaps; sort keys on write
      return m.writer().with(com.fasterxml.jackson.databind.SerializationFeature.ORDER_MAP_ENTRIES_BY_KEYS)
          .writeValueAsString(sortRec(tree));
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
  }

  @SuppressWarnings("unchecked")
  private static Object sortRec(Object o) {
    if (o instanceof Map<?, ?> map) {
      Map<String, Object> sorted = new java.util.TreeMap<>();
      ((Map<String, Object>) map).forEach((k, v) -> sorted.put(k, sortRec(v)));
      return sorted;
    }
    if (o instanceof List<?> list) {
      return list.stream().map(SweepPlan::sortRec).toList();
    }
    return o;
  }

  static String slug(String s) {
    return s.toLowerCase(Locale.ROOT).replaceAll("[^a-z0-9.]+", "-").replaceAll("(^-|-$)", "");
  }

  /** For reports: the plan's groups in order. */
  public Map<String, List<TrialSpec>> byGroup() {
    Map<String, List<TrialSpec>> g = new LinkedHashMap<>();
    trials.forEach(t -> g.computeIfAbsent(t.group(), k -> new ArrayList<>()).add(t));
    return g;
  }
}
