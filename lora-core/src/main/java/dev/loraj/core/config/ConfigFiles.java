package dev.loraj.core.config;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import dev.loraj.core.adapter.ConfigCodec;
import java.io.IOException;
import java.nio.charset.CharacterCodingException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Reads a config file a user names on the command line (YAML, or JSON by its {@code .json}
 * suffix) into a tree: a missing file, a directory, a file over {@link #MAX_BYTES}, bytes that
 * are not UTF-8 and text that does not parse each fail with a one-line {@link ConfigException}.
 */
public final class ConfigFiles {
  private ConfigFiles() {}

  /** Config files are hand-written; anything larger is the wrong file. */
  public static final long MAX_BYTES = 16L << 20;

  /** The tree of {@code file}; {@code what} names it in errors ("sweep config"). */
  public static JsonNode readTree(Path file, String what) throws IOException {
    if (Files.isDirectory(file)) {
      throw new ConfigException(what + " " + file + " is a directory; expected a YAML or JSON file");
    }
    if (!Files.exists(file)) {
      throw new ConfigException(what + " " + file + " does not exist");
    }
    if (!Files.isRegularFile(file) || !Files.isReadable(file)) {
      throw new ConfigException(what + " " + file + " is not a readable file");
    }
    if (Files.size(file) > MAX_BYTES) {
      throw new ConfigException(what + " " + file + " has " + Files.size(file) + " bytes; a config file over "
          + MAX_BYTES + " bytes is refused");
    }
    String text;
    try {
      text = Files.readString(file);
    } catch (CharacterCodingException e) {
      throw new ConfigException(what + " " + file + " is not UTF-8 text", e);
    }
    return parse(text, file.toString().endsWith(".json"), what + " " + file);
  }

  /** The tree of YAML (or, with {@code json}, JSON) text. */
  public static JsonNode parse(String text, boolean json, String what) {
    ObjectMapper m = ConfigCodec.configure(json ? new ObjectMapper() : new ObjectMapper(new YAMLFactory()));
    try {
      return m.readTree(text);
    } catch (JsonProcessingException e) {
      throw new ConfigException(what + " is not valid " + (json ? "JSON" : "YAML") + ": " + ConfigText.oneLine(e), e);
    }
  }
}
