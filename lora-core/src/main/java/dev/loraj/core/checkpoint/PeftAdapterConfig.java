package dev.loraj.core.checkpoint;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.loraj.core.adapter.AdapterConfig;
import dev.loraj.core.adapter.AdapterFactory;
import dev.loraj.core.adapter.AdapterRegistry;
import dev.loraj.core.adapter.AdapterSpec;
import dev.loraj.core.adapter.ConfigCodec;
import dev.loraj.core.model.Targets;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * PEFT's {@code adapter_config.json} ({@code LoraConfig}, peft 0.21) in both directions.
 *
 * <p>Reading maps PEFT's fields onto a registered variant: {@code use_dora} picks {@code dora},
 * otherwise {@code lora}; {@code r} and {@code lora_alpha} become the config's {@code rank} and
 * {@code alpha}; {@code lora_dropout}, {@code use_rslora} and {@code bias} go to the variant
 * config's fields of those names ({@code dropout}, {@code use_rslora}, {@code bias}), which is how
 * a variant with its own config record (DoRA's) is built without this class knowing it. Targets
 * come from {@code target_modules} (a list, a regex, or {@code all-linear}), {@code
 * exclude_modules}, {@code layers_to_transform}, {@code rank_pattern}, {@code alpha_pattern} and
 * {@code modules_to_save}. Keys this class does not know are ignored with one warning listing
 * them (newer PEFT versions add keys).
 *
 * <p>Other {@code peft_type}s go to the registered variant whose factory is a {@link PeftCodec}
 * of that type (AdaLoRA's {@code ADALORA}, VeRA's {@code VERA}); the codec reads its own fields,
 * the targets are read here. {@code root} is the parsed tree.
 */
public record PeftAdapterConfig(
    String variant, AdapterSpec spec, boolean fanInFanOut, List<String> ignoredKeys, JsonNode root) {

  /** Fields read and applied. */
  static final Set<String> HANDLED = Set.of(
      "peft_type", "r", "lora_alpha", "lora_dropout", "use_rslora", "use_dora", "bias",
      "fan_in_fan_out", "target_modules", "exclude_modules", "layers_to_transform",
      "rank_pattern", "alpha_pattern", "modules_to_save", "init_lora_weights");

  /** Bookkeeping fields with no effect on the numbers. */
  static final Set<String> METADATA = Set.of(
      "base_model_name_or_path", "revision", "inference_mode", "peft_version", "auto_mapping",
      "task_type", "megatron_core", "qalora_group_size", "layers_pattern");

  /** Fields that are harmless at their neutral value (null, false, {} or []). */
  static final Set<String> NEUTRAL = Set.of(
      "lora_bias", "use_qalora", "megatron_config", "loftq_config", "eva_config", "corda_config",
      "layer_replication", "target_parameters", "trainable_token_indices",
      "alora_invocation_tokens", "arrow_config", "ensure_weight_tying", "kasa_config",
      "lora_ga_config", "monteclora_config", "use_bdlora", "velora_config", "runtime_config");

  /**
   * Parses a config tree. {@code source} names the file in errors.
   *
   * @throws IllegalArgumentException naming the field and the bad value
   */
  public static PeftAdapterConfig parse(JsonNode root, AdapterRegistry registry, String source) {
    if (root == null || !root.isObject()) {
      throw new IllegalArgumentException(source + ": an adapter config must be a JSON object");
    }
    String peftType = root.path("peft_type").asText("");
    if (!peftType.equals("LORA")) {
      return parseCodec(root, peftType, registry, source);
    }
    boolean dora = bool(root, "use_dora", source);
    String variant = dora ? "dora" : "lora";
    if (!registry.contains(variant)) {
      throw new IllegalArgumentException(
          source + ": use_dora = " + dora + " needs the '" + variant + "' variant, which is not"
              + " registered (registered: " + registry.names() + "); put lora-variants on the"
              + " class path");
    }
    AdapterFactory<?> factory = registry.get(variant);
    ConfigCodec codec = new ConfigCodec(registry);
    ObjectNode tree = codec.toTree(factory.defaultConfig());
    tree.put("rank", positiveInt(root, "r", 8, source));
    tree.put("alpha", number(root, "lora_alpha", 8, source));
    setIfPresent(tree, root, "lora_dropout", "dropout", 0.0, source);
    setIfPresent(tree, root, "use_rslora", "use_rslora", false, source);
    setIfPresent(tree, root, "bias", "bias", "none", source);
    AdapterConfig config = codec.fromTree(tree);

    Targets targets = new Targets(
        selector(root.get("target_modules"), "target_modules", source, true),
        selector(root.get("exclude_modules"), "exclude_modules", source, false),
        layers(root.get("layers_to_transform"), source),
        intMap(root.get("rank_pattern"), "rank_pattern", source),
        doubleMap(root.get("alpha_pattern"), "alpha_pattern", source),
        stringList(root.get("modules_to_save"), "modules_to_save", source));

    List<String> ignored = new ArrayList<>();
    for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> e = it.next();
      String k = e.getKey();
      if (HANDLED.contains(k) || METADATA.contains(k)) {
        continue;
      }
      if (!NEUTRAL.contains(k) || !neutral(e.getValue())) {
        ignored.add(k + "=" + e.getValue());
      }
    }
    JsonNode init = root.get("init_lora_weights");
    if (init != null && init.isTextual() && !init.asText().equals("gaussian")) {
      ignored.add("init_lora_weights=" + init + " (the weights come from the file; a base"
          + " rewritten at init, as PiSSA's, is not reproduced)");
    }
    return new PeftAdapterConfig(variant, new AdapterSpec(config, targets),
        bool(root, "fan_in_fan_out", source), List.copyOf(ignored), root);
  }

  /** A config of another peft_type, read by the variant's {@link PeftCodec}. */
  private static PeftAdapterConfig parseCodec(JsonNode root, String peftType,
      AdapterRegistry registry, String source) {
    List<String> types = new ArrayList<>(List.of("LORA"));
    for (String name : registry.names()) {
      if (registry.get(name) instanceof PeftCodec c) {
        if (c.peftType().equals(peftType)) {
          AdapterConfig config = c.configFromPeft(root, new ConfigCodec(registry), source);
          // the codec's own patterns (AdaLoRA's rank_pattern holds masks) are not target patterns
          Targets targets = new Targets(
              selector(root.get("target_modules"), "target_modules", source, true),
              selector(root.get("exclude_modules"), "exclude_modules", source, false),
              layers(root.get("layers_to_transform"), source), Map.of(), Map.of(),
              stringList(root.get("modules_to_save"), "modules_to_save", source));
          return new PeftAdapterConfig(name, new AdapterSpec(config, targets),
              bool(root, "fan_in_fan_out", source), List.of(), root);
        }
        types.add(c.peftType());
      }
    }
    throw new IllegalArgumentException(
        source + ": peft_type = " + root.get("peft_type") + "; loadable here: " + types
            + " (DoRA is LORA with use_dora; other types need a registered variant that reads them)");
  }

  /**
   * The fields every PEFT config type has, for a {@link PeftCodec}'s directory: type, targets
   * (as exact module paths), layout, {@code modules_to_save} and the bias mode of the config's
   * {@code bias} field.
   */
  public static Map<String, Object> commonFields(String peftType, AdapterSpec spec,
      List<String> targetPaths, boolean fanInFanOut, ConfigCodec codec, String baseModelNameOrPath) {
    Map<String, Object> out = new TreeMap<>();
    out.put("peft_type", peftType);
    out.put("task_type", null);
    out.put("base_model_name_or_path", baseModelNameOrPath);
    out.put("inference_mode", true);
    out.put("r", spec.config().rank());
    out.put("bias", codec.jsonMapper().valueToTree(spec.config()).path("bias").asText("none"));
    out.put("fan_in_fan_out", fanInFanOut);
    out.put("target_modules", new ArrayList<>(new TreeSet<>(targetPaths)));
    out.put("layers_to_transform", null);
    out.put("layers_pattern", null);
    List<String> save = spec.targets().modulesToSave();
    out.put("modules_to_save", save.isEmpty() ? null : save);
    return out;
  }

  /**
   * The {@code adapter_config.json} content for an adapter (sorted keys). {@code targetPaths}:
   * the adapted module paths, written as {@code target_modules} (as PEFT does for
   * {@code all-linear}), so the selection is exact whatever selector made it.
   */
  public static Map<String, Object> toJson(String variant, AdapterSpec spec,
      List<String> targetPaths, boolean fanInFanOut, ConfigCodec codec,
      String baseModelNameOrPath) {
    AdapterConfig cfg = spec.config();
    Map<String, Object> out = new TreeMap<>();
    out.put("peft_type", "LORA");
    out.put("task_type", null);
    out.put("base_model_name_or_path", baseModelNameOrPath);
    out.put("inference_mode", true);
    out.put("r", cfg.rank());
    out.put("lora_alpha", plainNumber(cfg.alpha()));
    JsonNode fields = codec.jsonMapper().valueToTree(cfg);
    // what drew A: PEFT's true is kaiming-uniform, "gaussian" N(0, 1/r^2)
    out.put("init_lora_weights", fields.path("init").asText("").equals("gaussian") ? "gaussian" : true);
    out.put("lora_dropout", fields.path("dropout").asDouble(0.0));
    out.put("use_rslora", fields.path("use_rslora").asBoolean(false));
    out.put("bias", fields.path("bias").asText("none"));
    out.put("use_dora", variant.equals("dora"));
    out.put("fan_in_fan_out", fanInFanOut);
    out.put("target_modules", new ArrayList<>(new TreeSet<>(targetPaths)));
    out.put("exclude_modules", null);
    out.put("layers_to_transform", null);
    out.put("layers_pattern", null);
    out.put("lora_bias", false);
    Map<String, Object> ranks = new TreeMap<>(spec.targets().rankPattern());
    out.put("rank_pattern", ranks);
    Map<String, Object> alphas = new TreeMap<>();
    spec.targets().alphaPattern().forEach((k, v) -> alphas.put(k, plainNumber(v)));
    out.put("alpha_pattern", alphas);
    List<String> save = spec.targets().modulesToSave();
    out.put("modules_to_save", save.isEmpty() ? null : save);
    if (cfg instanceof PeftExportable exportable) {
      out.putAll(exportable.peftConfigFields());
    } else if (!exportable(variant, cfg)) {
      throw new IllegalArgumentException(
          "variant '" + variant + "' has no PEFT LoRA form: its config "
              + cfg.getClass().getSimpleName() + " does not implement PeftExportable");
    }
    return out;
  }

  /**
   * Whether the config alone makes the variant a PEFT LoRA (plain LoRA, DoRA or a
   * {@link PeftExportable} config); {@link PeftAdapters#noPeftForm} answers for every variant.
   */
  public static boolean exportable(String variant, AdapterConfig cfg) {
    return cfg instanceof PeftExportable || variant.equals("lora") || variant.equals("dora");
  }

  /** 8.0 -> 8 (PEFT writes integral alphas as ints). */
  public static Object plainNumber(double v) {
    return v == Math.rint(v) && Math.abs(v) < 1e15 ? (Object) (long) v : (Object) v;
  }

  private static boolean neutral(JsonNode v) {
    return v == null || v.isNull() || (v.isBoolean() && !v.asBoolean())
        || (v.isContainerNode() && v.isEmpty());
  }

  private static void setIfPresent(ObjectNode tree, JsonNode root, String peftName,
      String field, Object neutral, String source) {
    JsonNode v = root.get(peftName);
    if (v == null || v.isNull()) {
      return;
    }
    if (tree.has(field)) {
      tree.set(field, v);
      return;
    }
    // a value of another type than the neutral one is never neutral
    boolean isNeutral = neutral instanceof Boolean b ? v.isBoolean() && v.booleanValue() == b
        : neutral instanceof Number n ? v.isNumber() && v.asDouble() == n.doubleValue()
        : v.isTextual() && v.textValue().equals(neutral);
    if (!isNeutral) {
      throw new IllegalArgumentException(
          source + ": " + peftName + " = " + v + ", but the variant's config has no '" + field
              + "' field; accepted here: " + neutral);
    }
  }

  /** Field {@code name} as a boolean (false when absent or null). */
  public static boolean bool(JsonNode root, String name, String source) {
    JsonNode v = root.get(name);
    if (v == null || v.isNull()) {
      return false;
    }
    if (!v.isBoolean()) {
      throw new IllegalArgumentException(source + ": " + name + " = " + v + "; expected true or false");
    }
    return v.asBoolean();
  }

  /** Field {@code name} as an integer > 0, {@code fallback} when absent or null. */
  public static int positiveInt(JsonNode root, String name, int fallback, String source) {
    JsonNode v = root.get(name);
    if (v == null || v.isNull()) {
      return fallback;
    }
    if (!v.isIntegralNumber() || !v.canConvertToInt() || v.asInt() <= 0) {
      throw new IllegalArgumentException(source + ": " + name + " = " + v + "; expected a positive integer");
    }
    return v.asInt();
  }

  /** Field {@code name} as an integer >= 0, {@code fallback} when absent or null. */
  public static long nonNegativeLong(JsonNode root, String name, long fallback, String source) {
    JsonNode v = root.get(name);
    if (v == null || v.isNull()) {
      return fallback;
    }
    if (!v.isIntegralNumber() || !v.canConvertToLong() || v.asLong() < 0) {
      throw new IllegalArgumentException(source + ": " + name + " = " + v + "; expected an integer >= 0");
    }
    return v.asLong();
  }

  /** Field {@code name} as a number, {@code fallback} when absent or null. */
  public static double number(JsonNode root, String name, double fallback, String source) {
    JsonNode v = root.get(name);
    if (v == null || v.isNull()) {
      return fallback;
    }
    if (!v.isNumber()) {
      throw new IllegalArgumentException(source + ": " + name + " = " + v + "; expected a number");
    }
    return v.asDouble();
  }

  private static Targets.Selector selector(JsonNode v, String name, String source, boolean required) {
    if (v == null || v.isNull()) {
      if (required) {
        throw new IllegalArgumentException(
            source + ": " + name + " is missing; expected a list of module names, a regex or"
                + " 'all-linear' (PEFT's per-architecture defaults are not applied here)");
      }
      return null;
    }
    if (v.isTextual()) {
      try {
        java.util.regex.Pattern.compile(v.asText());
      } catch (java.util.regex.PatternSyntaxException e) {
        throw new IllegalArgumentException(source + ": " + name + " = " + v + " is not a valid regex: "
            + e.getDescription(), e);
      }
      return Targets.Selector.regex(v.asText());
    }
    return Targets.Selector.names(stringList(v, name, source));
  }

  private static List<Integer> layers(JsonNode v, String source) {
    if (v == null || v.isNull()) {
      return null;
    }
    String expected = "; expected a layer index >= 0 or a list of them";
    List<Integer> out = new ArrayList<>();
    for (JsonNode n : v.isArray() ? v : List.of(v)) {
      if (!n.isIntegralNumber() || !n.canConvertToInt() || n.asInt() < 0) {
        throw new IllegalArgumentException(source + ": layers_to_transform = " + v + expected);
      }
      out.add(n.asInt());
    }
    return out;
  }

  private static List<String> stringList(JsonNode v, String name, String source) {
    if (v == null || v.isNull()) {
      return null;
    }
    if (!v.isArray()) {
      throw new IllegalArgumentException(source + ": " + name + " = " + v + "; expected a list of strings");
    }
    List<String> out = new ArrayList<>();
    for (JsonNode n : v) {
      if (!n.isTextual()) {
        throw new IllegalArgumentException(source + ": " + name + " = " + v + "; expected a list of strings");
      }
      out.add(n.textValue());
    }
    return out;
  }

  private static Map<String, Integer> intMap(JsonNode v, String name, String source) {
    Map<String, Integer> out = new LinkedHashMap<>();
    if (v != null && !v.isNull()) {
      if (!v.isObject()) {
        throw new IllegalArgumentException(source + ": " + name + " = " + v + "; expected an object");
      }
      v.fields().forEachRemaining(e -> {
        JsonNode r = e.getValue();
        if (!r.isIntegralNumber() || !r.canConvertToInt() || r.asInt() <= 0) {
          throw new IllegalArgumentException(source + ": " + name + " maps '" + e.getKey() + "' to " + r
              + "; expected a positive integer");
        }
        out.put(e.getKey(), r.asInt());
      });
    }
    return out;
  }

  private static Map<String, Double> doubleMap(JsonNode v, String name, String source) {
    Map<String, Double> out = new LinkedHashMap<>();
    if (v != null && !v.isNull()) {
      if (!v.isObject()) {
        throw new IllegalArgumentException(source + ": " + name + " = " + v + "; expected an object");
      }
      v.fields().forEachRemaining(e -> {
        if (!e.getValue().isNumber()) {
          throw new IllegalArgumentException(source + ": " + name + " maps '" + e.getKey() + "' to "
              + e.getValue() + "; expected a number");
        }
        out.put(e.getKey(), e.getValue().asDouble());
      });
    }
    return out;
  }
}
