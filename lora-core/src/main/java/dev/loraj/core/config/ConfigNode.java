package dev.loraj.core.config;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Iterator;
import java.util.List;

/**
 * A typed, strict view of one mapping of a config file a user wrote (YAML or JSON): unknown keys
 * are errors with the nearest valid key suggested, values are read with their type checked (no
 * string read as a number, no float truncated to an integer, no empty list taken for "use the
 * default") and numbers checked against their range. Every error is a {@link ConfigException}
 * whose message starts with the key's path, e.g. {@code train.learning_rate = "fast": expected a
 * number > 0}.
 *
 * <p>A key that is absent or {@code null} takes the default passed to the getter.
 */
public final class ConfigNode {
  private final JsonNode node;
  private final String path;

  private ConfigNode(JsonNode node, String path) {
    this.node = node;
    this.path = path;
  }

  /**
   * The top-level mapping of a file; {@code what} names the file's kind in errors ("sweep
   * config").
   */
  public static ConfigNode root(JsonNode root, String what) {
    if (root == null || root.isMissingNode() || root.isNull()) {
      throw new ConfigException(what + " is empty; expected a mapping of keys to values");
    }
    if (!root.isObject()) {
      throw new ConfigException(what + " is a " + kind(root) + "; expected a mapping of keys to values");
    }
    return new ConfigNode(root, "");
  }

  /** A mapping found at {@code path} (for entries of a list of mappings). */
  public static ConfigNode at(JsonNode node, String path) {
    if (node == null || !node.isObject()) {
      throw new ConfigException(path + " = " + show(node) + ": expected a mapping");
    }
    return new ConfigNode(node, path);
  }

  /** The underlying tree. */
  public JsonNode json() {
    return node;
  }

  /** This mapping's path ("train", "variants[2]"; empty for the top level). */
  public String path() {
    return path;
  }

  /** Fails on the first key not in {@code accepted}, naming the nearest accepted key. */
  public ConfigNode keys(Collection<String> accepted) {
    for (Iterator<String> it = node.fieldNames(); it.hasNext(); ) {
      String k = it.next();
      if (!accepted.contains(k)) {
        throw new ConfigException("unknown key '" + k + "'" + (path.isEmpty() ? "" : " in " + path)
            + Suggestions.hint(k, accepted) + " (accepted: " + String.join(", ", accepted) + ")");
      }
    }
    return this;
  }

  /** Whether {@code key} is present with a non-null value. */
  public boolean has(String key) {
    JsonNode v = node.get(key);
    return v != null && !v.isNull();
  }

  /** The raw value, or null when absent or null. */
  public JsonNode get(String key) {
    return has(key) ? node.get(key) : null;
  }

  /** The path of {@code key} in messages. */
  public String where(String key) {
    return path.isEmpty() ? key : path + "." + key;
  }

  /** A nested mapping; an absent key is an empty mapping. */
  public ConfigNode object(String key) {
    JsonNode v = get(key);
    if (v == null) {
      return new ConfigNode(com.fasterxml.jackson.databind.node.JsonNodeFactory.instance.objectNode(), where(key));
    }
    if (!v.isObject()) {
      throw bad(key, v, "a mapping of keys to values");
    }
    return new ConfigNode(v, where(key));
  }

  /** An integer in [min, max]. */
  public int integer(String key, int fallback, int min, int max) {
    return (int) longValue(key, fallback, min, max);
  }

  /** A 64-bit integer in [min, max]. */
  public long longValue(String key, long fallback, long min, long max) {
    JsonNode v = get(key);
    return v == null ? fallback : checkLong(where(key), v, min, max);
  }

  /** A finite number in [min, max]; {@code minExclusive}: greater than min. */
  public double number(String key, double fallback, double min, boolean minExclusive, double max) {
    JsonNode v = get(key);
    return v == null ? fallback : checkNumber(where(key), v, min, minExclusive, max);
  }

  /** A string (a number or boolean is not taken as its spelling). */
  public String text(String key, String fallback) {
    JsonNode v = get(key);
    if (v == null) {
      return fallback;
    }
    if (!v.isTextual()) {
      throw bad(key, v, "a string");
    }
    return v.textValue();
  }

  /** A string from {@code accepted}, the nearest suggested otherwise. */
  public String choice(String key, String fallback, Collection<String> accepted) {
    String s = text(key, fallback);
    if (s != null && !accepted.contains(s)) {
      throw new ConfigException(where(key) + " = '" + s + "'" + Suggestions.hint(s, accepted)
          + " (accepted: " + String.join(", ", accepted) + ")");
    }
    return s;
  }

  /** true or false. */
  public boolean bool(String key, boolean fallback) {
    JsonNode v = get(key);
    if (v == null) {
      return fallback;
    }
    if (!v.isBoolean()) {
      throw bad(key, v, "true or false");
    }
    return v.booleanValue();
  }

  /** A non-empty list of integers in [min, max] (absent: {@code fallback}). */
  public List<Long> longs(String key, List<Long> fallback, long min, long max) {
    JsonNode v = get(key);
    if (v == null) {
      return fallback;
    }
    if (!v.isArray() || v.isEmpty()) {
      throw bad(key, v, "a non-empty list of integers");
    }
    List<Long> out = new ArrayList<>();
    for (int i = 0; i < v.size(); i++) {
      out.add(checkLong(where(key) + "[" + i + "]", v.get(i), min, max));
    }
    return out;
  }

  /** A non-empty list of strings (absent: {@code fallback}). */
  public List<String> texts(String key, List<String> fallback) {
    JsonNode v = get(key);
    if (v == null) {
      return fallback;
    }
    if (!v.isArray() || v.isEmpty()) {
      throw bad(key, v, "a non-empty list of strings");
    }
    List<String> out = new ArrayList<>();
    for (int i = 0; i < v.size(); i++) {
      if (!v.get(i).isTextual()) {
        throw new ConfigException(where(key) + "[" + i + "] = " + show(v.get(i)) + ": expected a string");
      }
      out.add(v.get(i).textValue());
    }
    return out;
  }

  /** An integer value at {@code where}, type and range checked. */
  public static long checkLong(String where, JsonNode v, long min, long max) {
    if (v == null || !v.isIntegralNumber() || !v.canConvertToLong()) {
      throw new ConfigException(where + " = " + show(v) + ": expected an integer" + range(min, max));
    }
    long x = v.longValue();
    if (x < min || x > max) {
      throw new ConfigException(where + " = " + x + ": expected an integer" + range(min, max));
    }
    return x;
  }

  /** A number at {@code where}, type and range checked; NaN and infinities are refused. */
  public static double checkNumber(String where, JsonNode v, double min, boolean minExclusive, double max) {
    String expected = "a number " + (minExclusive ? "> " : ">= ") + plain(min)
        + (max == Double.MAX_VALUE ? "" : " and <= " + plain(max));
    if (v == null || !v.isNumber()) {
      throw new ConfigException(where + " = " + show(v) + ": expected " + expected);
    }
    double x = v.doubleValue();
    if (!Double.isFinite(x) || x < min || (minExclusive && x == min) || x > max) {
      throw new ConfigException(where + " = " + show(v) + ": expected " + expected);
    }
    return x;
  }

  private ConfigException bad(String key, JsonNode v, String expected) {
    return new ConfigException(where(key) + " = " + show(v) + ": expected " + expected);
  }

  private static String range(long min, long max) {
    if (min == Long.MIN_VALUE && max == Long.MAX_VALUE) {
      return "";
    }
    if (max == Long.MAX_VALUE || max == Integer.MAX_VALUE) {
      return " >= " + min;
    }
    return " in [" + min + ", " + max + "]";
  }

  private static String plain(double d) {
    return d == Math.rint(d) && Math.abs(d) < 1e15 ? String.valueOf((long) d) : String.valueOf(d);
  }

  /** A value as it would be written in the file, shortened; strings quoted. */
  public static String show(JsonNode v) {
    if (v == null || v.isMissingNode()) {
      return "(missing)";
    }
    String s = v.isContainerNode() && v.isEmpty() ? (v.isArray() ? "[]" : "{}") : v.toString();
    s = s.replaceAll("[\\r\\n]+", " ");
    return s.length() <= 60 ? s : s.substring(0, 57) + "...";
  }

  private static String kind(JsonNode v) {
    return v.isArray() ? "list" : v.isTextual() ? "string" : v.getNodeType().toString().toLowerCase(java.util.Locale.ROOT);
  }
}
