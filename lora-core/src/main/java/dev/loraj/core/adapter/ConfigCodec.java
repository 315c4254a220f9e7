package dev.loraj.core.adapter;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import java.util.Iterator;
import java.util.Map;

/**
 * Reads and writes variant configs as JSON or YAML with a {@code type} discriminator resolved
 * through the registry, so a config from a jar added to the class path works the same as a
 * built-in one. Field names are snake_case; unknown fields are errors naming the field and the
 * accepted ones.
 */
public final class ConfigCodec {

  private final AdapterRegistry registry;
  private final ObjectMapper json;
  private final ObjectMapper yaml;

  public ConfigCodec(AdapterRegistry registry) {
    this.registry = registry;
    this.json = configure(new ObjectMapper());
    this.yaml = configure(new ObjectMapper(new YAMLFactory()));
  }

  /**
   * The mapper settings every config file of this framework uses. No Jackson modules are
   * discovered from the classpath ({@code findAndRegisterModules}): what a config means must not
   * depend on which jars sit beside ours. Under Spark, jackson-module-scala would register itself
   * and turn untyped lists into Scala lists (target selectors failed to parse, and the canonical
   * spec JSON behind trial ids changed).
   */
  public static ObjectMapper configure(ObjectMapper mapper) {
    return mapper
        .setPropertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE)
        .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
        .enable(SerializationFeature.ORDER_MAP_ENTRIES_BY_KEYS);
  }

  public ObjectMapper jsonMapper() {
    return json;
  }

  public ObjectMapper yamlMapper() {
    return yaml;
  }

  /** A JSON tree {@code {"type": name, field: value, ...}}. */
  public ObjectNode toTree(AdapterConfig config) {
    AdapterFactory<?> factory = registry.forConfig(config);
    ObjectNode node = json.createObjectNode();
    node.put("type", factory.name());
    node.setAll((ObjectNode) json.valueToTree(config));
    return node;
  }

  /**
   * Reads a config from a tree holding {@code type}; missing fields take the variant's
   * defaults (so {@code {type: dora, rank: 16}} is a complete config).
   */
  public AdapterConfig fromTree(JsonNode node) {
    if (node == null || !node.isObject()) {
      throw new IllegalArgumentException("an adapter config must be an object with a 'type' field");
    }
    JsonNode type = node.get("type");
    if (type == null || !type.isTextual()) {
      throw new IllegalArgumentException(
          "adapter config has no 'type'; registered variants: " + registry.names());
    }
    AdapterFactory<?> factory = registry.get(type.asText());
    ObjectNode merged = (ObjectNode) json.valueToTree(factory.defaultConfig());
    for (Iterator<Map.Entry<String, JsonNode>> it = node.fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> e = it.next();
      if (!e.getKey().equals("type")) {
        if (!merged.has(e.getKey())) {
          throw new IllegalArgumentException(
              "unknown field '" + e.getKey() + "' for variant '" + factory.name()
                  + "'; accepted fields: " + fieldNames(merged));
        }
        merged.set(e.getKey(), e.getValue());
      }
    }
    try {
      return json.treeToValue(merged, factory.configType());
    } catch (UnrecognizedPropertyException e) {
      throw new IllegalArgumentException(
          "unknown field '" + e.getPropertyName() + "' for variant '" + factory.name() + "'", e);
    } catch (JsonProcessingException e) {
      Throwable cause = e.getCause() != null ? e.getCause() : e;
      throw new IllegalArgumentException(
          "invalid config for variant '" + factory.name() + "': " + cause.getMessage(), e);
    }
  }

  public String toJson(AdapterConfig config) {
    try {
      return json.writerWithDefaultPrettyPrinter().writeValueAsString(toTree(config));
    } catch (JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
  }

  public String toYaml(AdapterConfig config) {
    try {
      return yaml.writeValueAsString(toTree(config));
    } catch (JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
  }

  public AdapterConfig fromJson(String text) {
    return fromTree(read(json, text));
  }

  public AdapterConfig fromYaml(String text) {
    return fromTree(read(yaml, text));
  }

  private static JsonNode read(ObjectMapper mapper, String text) {
    try {
      return mapper.readTree(text);
    } catch (JsonProcessingException e) {
      throw new IllegalArgumentException("cannot parse config: " + e.getOriginalMessage(), e);
    }
  }

  private static String fieldNames(ObjectNode node) {
    StringBuilder sb = new StringBuilder();
    node.fieldNames().forEachRemaining(n -> sb.append(sb.length() == 0 ? "" : ", ").append(n));
    return "[" + sb + "]";
  }
}
