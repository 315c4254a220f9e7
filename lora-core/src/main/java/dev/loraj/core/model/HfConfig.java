package dev.loraj.core.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/**
 * A Hugging Face {@code config.json}, read with typed getters whose errors name the file, the
 * field and what was found. Several names may be given for one field (GPT-2's {@code n_embd}
 * is {@code hidden_size} elsewhere); the first present wins.
 */
public final class HfConfig {

  private static final ObjectMapper JSON = new ObjectMapper();

  private final String source;
  private final JsonNode root;

  public HfConfig(String source, JsonNode root) {
    if (root == null || !root.isObject()) {
      throw new IllegalArgumentException(source + ": a model config must be a JSON object");
    }
    this.source = source;
    this.root = root;
  }

  /** Reads {@code dir/config.json}. */
  public static HfConfig read(Path dir) throws IOException {
    Path file = dir.resolve("config.json");
    if (!Files.isRegularFile(file)) {
      throw new NoSuchFileException(file.toString(), null,
          "a Hugging Face model directory needs config.json");
    }
    try {
      return new HfConfig(file.toString(), JSON.readTree(file.toFile()));
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      throw new IllegalArgumentException(file + ": not valid JSON: " + e.getOriginalMessage(), e);
    }
  }

  /** A config from fields (tests, architecture cards). */
  public static HfConfig of(String source, java.util.Map<String, ?> fields) {
    ObjectNode node = JSON.valueToTree(fields);
    return new HfConfig(source, node);
  }

  public String source() {
    return source;
  }

  public JsonNode root() {
    return root;
  }

  public String modelType() {
    return string(null, "model_type");
  }

  public boolean has(String name) {
    JsonNode n = root.get(name);
    return n != null && !n.isNull();
  }

  private JsonNode first(String... names) {
    for (String n : names) {
      JsonNode v = root.get(n);
      if (v != null && !v.isNull()) {
        return v;
      }
    }
    return null;
  }

  /** A required positive integer under any of {@code names}. */
  public int positiveInt(String... names) {
    JsonNode v = first(names);
    if (v == null) {
      throw new IllegalArgumentException(
          source + ": missing field " + String.join(" / ", names) + " (a positive integer)");
    }
    if (!v.canConvertToInt() || !v.isIntegralNumber() || v.asInt() <= 0) {
      throw new IllegalArgumentException(
          source + ": " + names[0] + " = " + v + "; expected a positive integer");
    }
    return v.asInt();
  }

  /** An optional positive integer; {@code fallback} when absent or null. */
  public int positiveInt(int fallback, String... names) {
    return first(names) == null ? fallback : positiveInt(names);
  }

  public double number(double fallback, String... names) {
    JsonNode v = first(names);
    if (v == null) {
      return fallback;
    }
    if (!v.isNumber()) {
      throw new IllegalArgumentException(
          source + ": " + names[0] + " = " + v + "; expected a number");
    }
    return v.asDouble();
  }

  public boolean bool(boolean fallback, String... names) {
    JsonNode v = first(names);
    if (v == null) {
      return fallback;
    }
    if (!v.isBoolean()) {
      throw new IllegalArgumentException(
          source + ": " + names[0] + " = " + v + "; expected true or false");
    }
    return v.asBoolean();
  }

  public String string(String fallback, String... names) {
    JsonNode v = first(names);
    if (v == null) {
      if (fallback == null) {
        throw new IllegalArgumentException(
            source + ": missing field " + String.join(" / ", names) + " (a string)");
      }
      return fallback;
    }
    if (!v.isTextual()) {
      throw new IllegalArgumentException(
          source + ": " + names[0] + " = " + v + "; expected a string");
    }
    return v.asText();
  }

  /** A nested object, or null. */
  public JsonNode object(String name) {
    JsonNode v = root.get(name);
    return v != null && v.isObject() ? v : null;
  }
}
