package dev.loraj.core.adapter;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.MapperFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import dev.loraj.core.config.ConfigException;
import dev.loraj.core.config.ConfigText;
import dev.loraj.core.config.Suggestions;
import java.util.Iterator;
import java.util.Map;

/**
 * Reads and writes variant configs as JSON or YAML with a {@code type} discriminator resolved
 * through the registry, so a config from a jar added to the class path works the same as a
 * built-in one. Field names are snake_case; unknown fields are errors naming the field, the
 * nearest accepted one and the accepted ones; values are not coerced between types. Every
 * decoding error is a {@link ConfigException}.
 */
public final class ConfigCodec {

  private final AdapterRegistry registry;
  private final ObjectMapper json;
  private final ObjectMapper yaml;
  private final ObjectMapper strict;

  public ConfigCodec(AdapterRegistry registry) {
    this.registry = registry;
    this.json = configure(new ObjectMapper());
    this.yaml = configure(new ObjectMapper(new YAMLFactory()));
    // decoding a config a user wrote reads each value as written: "8" is not the number 8, 8.5
    // is not the integer 8, null is not 0 or false (the shared mappers above stay lenient: they
    // also read result files, where a failed trial's numbers are null)
    this.strict = configure(new ObjectMapper())
        .disable(MapperFeature.ALLOW_COERCION_OF_SCALARS)
        .disable(DeserializationFeature.ACCEPT_FLOAT_AS_INT)
        .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES);
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
      throw new ConfigException("an adapter config must be an object with a 'type' field");
    }
    JsonNode type = node.get("type");
    if (type == null || !type.isTextual()) {
      throw new ConfigException(
          "adapter config has no 'type' string; registered variants: " + registry.names());
    }
    AdapterFactory<?> factory = registry.get(type.asText());
    ObjectNode merged = (ObjectNode) json.valueToTree(factory.defaultConfig());
    for (Iterator<Map.Entry<String, JsonNode>> it = node.fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> e = it.next();
      if (!e.getKey().equals("type")) {
        if (!merged.has(e.getKey())) {
          java.util.List<String> accepted = new java.util.ArrayList<>();
          merged.fieldNames().forEachRemaining(accepted::add);
          throw new ConfigException(
              "unknown field '" + e.getKey() + "' for variant '" + factory.name() + "'"
                  + Suggestions.hint(e.getKey(), accepted) + " (accepted fields: "
                  + String.join(", ", accepted) + ")");
        }
        merged.set(e.getKey(), e.getValue());
      }
    }
    try {
      return strict.treeToValue(merged, factory.configType());
    } catch (UnrecognizedPropertyException e) {
      throw new ConfigException(
          "unknown field '" + e.getPropertyName() + "' for variant '" + factory.name() + "'", e);
    } catch (com.fasterxml.jackson.databind.exc.MismatchedInputException e) {
      String field = e.getPath().isEmpty() ? null : e.getPath().get(0).getFieldName();
      if (field == null) {
        throw new ConfigException("invalid config for variant '" + factory.name() + "': " + ConfigText.oneLine(e), e);
      }
      throw new ConfigException("variant '" + factory.name() + "': " + field + " = " + merged.get(field)
          + ": expected " + expected(e.getTargetType()), e);
    } catch (JsonProcessingException e) {
      // a compact constructor's own message says what is wrong; Jackson's names the field
      String why = e.getCause() instanceof IllegalArgumentException iae && iae.getMessage() != null
          ? iae.getMessage() : ConfigText.oneLine(e);
      throw new ConfigException("invalid config for variant '" + factory.name() + "': " + why, e);
    }
  }

  /** How a value of {@code type} is described to a user. */
  private static String expected(Class<?> type) {
    if (type == int.class || type == Integer.class || type == long.class || type == Long.class) {
      return "an integer";
    }
    if (type == double.class || type == Double.class || type == float.class || type == Float.class) {
      return "a number";
    }
    if (type == boolean.class || type == Boolean.class) {
      return "true or false";
    }
    if (type == String.class) {
      return "a string";
    }
    if (type != null && type.isEnum()) {
      return "one of " + java.util.Arrays.stream(type.getEnumConstants()).map(Object::toString).toList();
    }
    return type == null ? "another type" : "a " + type.getSimpleName();
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
      throw new ConfigException("cannot parse config: " + ConfigText.oneLine(e), e);
    }
  }

}
