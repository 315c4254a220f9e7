package dev.loraj.eval.data;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.zip.GZIPInputStream;

/**
 * Reads the class path resources under {@code /datasets/}: {@code index.json} (the ids),
 * {@code <id>.json} (the card) and the gzipped JSONL data file the card names.
 */
final class DatasetResources {

  static final String DIR = "/datasets/";
  private static final ObjectMapper MAPPER = new ObjectMapper();

  /** One line of a data file, before the label name is mapped to its index. */
  record Row(String split, String label, String text, String group) {}

  private DatasetResources() {}

  static List<String> ids() {
    JsonNode index = readJson("index.json");
    List<String> ids = new ArrayList<>();
    index.path("datasets").forEach(node -> ids.add(node.asText()));
    if (ids.isEmpty()) {
      throw new IllegalStateException("resource " + DIR + "index.json lists no data sets");
    }
    return List.copyOf(ids);
  }

  static DatasetCard card(String id) {
    try {
      return MAPPER.treeToValue(readJson(id + ".json"), DatasetCard.class);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot parse card " + DIR + id + ".json", e);
    }
  }

  static byte[] bytes(String name) {
    try (InputStream in = open(name)) {
      return in.readAllBytes();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read resource " + DIR + name, e);
    }
  }

  /** Parses a gzipped JSONL file; {@code name} is used in error messages only. */
  static List<Row> rows(byte[] gzipped, String name) {
    List<Row> rows = new ArrayList<>();
    try (BufferedReader reader = new BufferedReader(new InputStreamReader(
        new GZIPInputStream(new ByteArrayInputStream(gzipped)), StandardCharsets.UTF_8))) {
      String line;
      int lineNo = 0;
      while ((line = reader.readLine()) != null) {
        lineNo++;
        if (line.isBlank()) {
          continue;
        }
        JsonNode node = MAPPER.readTree(line);
        rows.add(new Row(
            field(node, "split", name, lineNo),
            field(node, "label", name, lineNo),
            field(node, "text", name, lineNo),
            node.path("group").asText("")));
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read data file " + DIR + name, e);
    }
    return rows;
  }

  static String sha256Hex(byte[] bytes) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is required of every JDK", e);
    }
  }

  private static String field(JsonNode node, String key, String name, int lineNo) {
    JsonNode value = node.get(key);
    if (value == null || !value.isTextual()) {
      throw new IllegalStateException(
          DIR + name + " line " + lineNo + ": field '" + key + "' missing or not a string");
    }
    return value.asText();
  }

  private static JsonNode readJson(String name) {
    try (InputStream in = open(name)) {
      return MAPPER.readTree(in);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read resource " + DIR + name, e);
    }
  }

  private static InputStream open(String name) {
    InputStream in = DatasetResources.class.getResourceAsStream(DIR + name);
    if (in == null) {
      throw new IllegalStateException("class path resource " + DIR + name + " not found");
    }
    return in;
  }
}
