package dev.loraj.core.io;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CharsetEncoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The JSON header of a safetensors file: parsing with full validation, and encoding.
 *
 * <p>Format (huggingface/safetensors README): {@code u64} little-endian header length N, N
 * bytes of UTF-8 JSON {@code {name: {"dtype", "shape", "data_offsets": [begin, end)},
 * "__metadata__": {str: str}}}, then the byte buffer; offsets are relative to the buffer and
 * the tensors tile it without gaps or overlaps. Writers pad the header with spaces to a
 * multiple of 8; headers over 100,000,000 bytes are refused.
 */
final class SafetensorsHeader {
  /** The reference library's limit on N (and ours, reading and writing). */
  static final long MAX_HEADER_BYTES = 100_000_000L;

  static final String METADATA_KEY = "__metadata__";

  /** Byte order of names in the reference writer: Rust's {@code String} order, UTF-8 bytes. */
  static final Comparator<String> UTF8_ORDER =
      (a, b) -> {
        byte[] x = a.getBytes(StandardCharsets.UTF_8);
        byte[] y = b.getBytes(StandardCharsets.UTF_8);
        int n = Math.min(x.length, y.length);
        for (int i = 0; i < n; i++) {
          int c = Integer.compare(x[i] & 0xff, y[i] & 0xff);
          if (c != 0) {
            return c;
          }
        }
        return Integer.compare(x.length, y.length);
      };

  private static final ObjectMapper JSON =
      new ObjectMapper()
          .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
          .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

  /** Tensors in buffer order (by begin offset). */
  final Map<String, TensorInfo> tensors;

  final Map<String, String> metadata;

  private SafetensorsHeader(Map<String, TensorInfo> tensors, Map<String, String> metadata) {
    this.tensors = Collections.unmodifiableMap(tensors);
    this.metadata = Collections.unmodifiableMap(metadata);
  }

  /** Parses and validates {@code header} against a buffer of {@code bufferLength} bytes. */
  static SafetensorsHeader parse(Path file, byte[] header, long bufferLength)
      throws SafetensorsFormatException {
    JsonNode root = readJson(file, header, "header");
    if (!root.isObject()) {
      throw new SafetensorsFormatException(
          file, "header is a JSON " + root.getNodeType() + "; expected a JSON object");
    }
    Map<String, String> metadata = new LinkedHashMap<>();
    List<TensorInfo> infos = new ArrayList<>();
    for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> field = it.next();
      if (field.getKey().equals(METADATA_KEY)) {
        readMetadata(file, field.getValue(), metadata);
      } else {
        infos.add(readTensor(file, field.getKey(), field.getValue(), bufferLength));
      }
    }
    infos.sort(
        Comparator.comparingLong(TensorInfo::begin).thenComparingLong(TensorInfo::end));
    Map<String, TensorInfo> tensors = new LinkedHashMap<>();
    long expected = 0;
    TensorInfo previous = null;
    for (TensorInfo t : infos) {
      if (t.begin() < expected) {
        throw new SafetensorsFormatException(
            file, "tensor '" + t.name() + "' data_offsets [" + t.begin() + ", " + t.end()
                + ") overlap tensor '" + previous.name() + "' at [" + previous.begin() + ", "
                + previous.end() + "); tensors must tile the buffer without overlaps");
      }
      if (t.begin() > expected) {
        throw new SafetensorsFormatException(
            file, "gap of " + (t.begin() - expected) + " unused bytes at buffer offset "
                + expected + " before tensor '" + t.name() + "' at [" + t.begin() + ", "
                + t.end() + "); tensors must tile the buffer without gaps");
      }
      tensors.put(t.name(), t);
      expected = t.end();
      previous = t;
    }
    if (expected != bufferLength) {
      throw new SafetensorsFormatException(
          file, "the tensors cover the first " + expected + " bytes of the buffer but it has "
              + bufferLength + " bytes (" + (bufferLength - expected) + " trailing bytes);"
              + " tensors must tile the buffer to its end");
    }
    return new SafetensorsHeader(tensors, metadata);
  }

  /** Strict UTF-8 decoding, then JSON with duplicate keys and trailing tokens refused. */
  static JsonNode readJson(Path file, byte[] bytes, String what)
      throws SafetensorsFormatException {
    CharsetDecoder utf8 =
        StandardCharsets.UTF_8
            .newDecoder()
            .onMalformedInput(CodingErrorAction.REPORT)
            .onUnmappableCharacter(CodingErrorAction.REPORT);
    String text;
    try {
      text = utf8.decode(ByteBuffer.wrap(bytes)).toString();
    } catch (CharacterCodingException e) {
      throw new SafetensorsFormatException(file, what + " is not valid UTF-8", e);
    }
    try {
      JsonNode root = JSON.readTree(text);
      if (root == null || root.isMissingNode()) {
        throw new SafetensorsFormatException(
            file, what + " is empty (" + bytes.length + " bytes of whitespace); expected a"
                + " JSON object");
      }
      return root;
    } catch (JsonProcessingException e) {
      String where =
          e.getLocation() == null
              ? ""
              : " at line " + e.getLocation().getLineNr() + ", column "
                  + e.getLocation().getColumnNr();
      throw new SafetensorsFormatException(
          file, what + " is not valid JSON" + where + ": " + e.getOriginalMessage(), e);
    }
  }

  private static void readMetadata(Path file, JsonNode node, Map<String, String> out)
      throws SafetensorsFormatException {
    if (node.isNull()) {
      return; // the reference library accepts "__metadata__": null as no metadata
    }
    if (!node.isObject()) {
      throw new SafetensorsFormatException(
          file, "__metadata__ is a JSON " + node.getNodeType() + "; expected an object of"
              + " string values");
    }
    for (Iterator<Map.Entry<String, JsonNode>> it = node.fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> e = it.next();
      if (!e.getValue().isTextual()) {
        throw new SafetensorsFormatException(
            file, "__metadata__ key '" + e.getKey() + "' has value " + abbreviate(e.getValue())
                + "; expected a string");
      }
      out.put(e.getKey(), e.getValue().textValue());
    }
  }

  private static TensorInfo readTensor(Path file, String name, JsonNode node, long bufferLength)
      throws SafetensorsFormatException {
    String where = "tensor '" + name + "'";
    if (!node.isObject()) {
      throw new SafetensorsFormatException(
          file, where + " is " + abbreviate(node) + "; expected an object with dtype, shape"
              + " and data_offsets");
    }
    JsonNode dtypeNode = node.get("dtype");
    if (dtypeNode == null || !dtypeNode.isTextual()) {
      throw new SafetensorsFormatException(
          file, where + " has dtype " + abbreviate(dtypeNode) + "; expected a string such as"
              + " \"F32\"");
    }
    SafetensorsDtype dtype =
        SafetensorsDtype.fromHeader(dtypeNode.textValue())
            .orElseThrow(
                () ->
                    new SafetensorsFormatException(
                        file, where + " has unknown dtype \"" + dtypeNode.textValue()
                            + "\"; expected one of " + java.util.Arrays.toString(
                                SafetensorsDtype.values())));
    long[] shape = readLongs(file, where, "shape", node.get("shape"), -1);
    long[] offsets = readLongs(file, where, "data_offsets", node.get("data_offsets"), 2);
    long begin = offsets[0];
    long end = offsets[1];
    if (begin > end) {
      throw new SafetensorsFormatException(
          file, where + " has data_offsets [" + begin + ", " + end + "] with begin > end;"
              + " expected begin <= end");
    }
    if (end > bufferLength) {
      throw new SafetensorsFormatException(
          file, where + " has data_offsets [" + begin + ", " + end + "] out of range: the"
              + " buffer after the header has " + bufferLength + " bytes");
    }
    long expectedBytes = dtype.byteSize();
    try {
      for (long d : shape) {
        expectedBytes = Math.multiplyExact(expectedBytes, d);
      }
    } catch (ArithmeticException e) {
      throw new SafetensorsFormatException(
          file, where + " has shape " + java.util.Arrays.toString(shape) + " whose byte size"
              + " overflows 64 bits");
    }
    if (expectedBytes != end - begin) {
      throw new SafetensorsFormatException(
          file, where + " has shape " + java.util.Arrays.toString(shape) + " of " + dtype
              + " = " + expectedBytes + " bytes but data_offsets [" + begin + ", " + end
              + "] span " + (end - begin) + " bytes");
    }
    return new TensorInfo(name, dtype, shape, begin, end);
  }

  /** A JSON array of non-negative integers that fit a long; {@code size} < 0: any length. */
  private static long[] readLongs(Path file, String where, String field, JsonNode node, int size)
      throws SafetensorsFormatException {
    String expected =
        size < 0 ? "an array of non-negative integers" : "an array of " + size
            + " non-negative integers";
    if (node == null || !node.isArray()) {
      throw new SafetensorsFormatException(
          file, where + " has " + field + " " + abbreviate(node) + "; expected " + expected);
    }
    if (size >= 0 && node.size() != size) {
      throw new SafetensorsFormatException(
          file, where + " has " + field + " " + abbreviate(node) + " with " + node.size()
              + " entries; expected " + expected);
    }
    long[] out = new long[node.size()];
    for (int i = 0; i < out.length; i++) {
      JsonNode v = node.get(i);
      if (!v.isIntegralNumber() || !v.canConvertToLong() || v.longValue() < 0) {
        throw new SafetensorsFormatException(
            file, where + " has " + field + " " + abbreviate(node) + " with entry " + i + " = "
                + abbreviate(v) + "; expected " + expected);
      }
      out[i] = v.longValue();
    }
    return out;
  }

  private static String abbreviate(JsonNode node) {
    if (node == null) {
      return "(missing)";
    }
    String s = node.toString();
    return s.length() <= 80 ? s : s.substring(0, 77) + "...";
  }

  /**
   * The header bytes for tensors already in buffer order, padded with spaces to a multiple of
   * 8. JSON as the reference writer (serde_json) emits it: no whitespace, {@code __metadata__}
   * first when not null, then the tensors with keys dtype, shape, data_offsets; strings escape
   * the quote, the backslash and control characters (short forms b, t, n, f, r, else a
   * six-character u-escape in lower-case hex), everything else is raw UTF-8. Metadata keys are
   * written in UTF-8 byte order (the
   * reference writer's order is its hash map's, which varies from run to run).
   */
  static byte[] encode(List<TensorInfo> tensors, Map<String, String> metadata) {
    StringBuilder json = new StringBuilder(64 + 96 * tensors.size());
    json.append('{');
    boolean first = true;
    if (metadata != null) {
      json.append('"').append(METADATA_KEY).append("\":{");
      List<String> keys = new ArrayList<>(metadata.keySet());
      keys.sort(UTF8_ORDER);
      for (int i = 0; i < keys.size(); i++) {
        if (i > 0) {
          json.append(',');
        }
        appendString(json, keys.get(i));
        json.append(':');
        appendString(json, metadata.get(keys.get(i)));
      }
      json.append('}');
      first = false;
    }
    for (TensorInfo t : tensors) {
      if (!first) {
        json.append(',');
      }
      first = false;
      appendString(json, t.name());
      json.append(":{\"dtype\":\"").append(t.dtype().name()).append("\",\"shape\":[");
      long[] shape = t.shape();
      for (int i = 0; i < shape.length; i++) {
        if (i > 0) {
          json.append(',');
        }
        json.append(shape[i]);
      }
      json.append("],\"data_offsets\":[").append(t.begin()).append(',').append(t.end());
      json.append("]}");
    }
    json.append('}');
    byte[] bytes = utf8(json);
    int padding = (8 - bytes.length % 8) % 8;
    ByteArrayOutputStream out = new ByteArrayOutputStream(bytes.length + padding);
    out.writeBytes(bytes);
    for (int i = 0; i < padding; i++) {
      out.write(' ');
    }
    return out.toByteArray();
  }

  private static byte[] utf8(CharSequence s) {
    CharsetEncoder encoder =
        StandardCharsets.UTF_8
            .newEncoder()
            .onMalformedInput(CodingErrorAction.REPORT)
            .onUnmappableCharacter(CodingErrorAction.REPORT);
    try {
      ByteBuffer b = encoder.encode(java.nio.CharBuffer.wrap(s));
      byte[] out = new byte[b.remaining()];
      b.get(out);
      return out;
    } catch (CharacterCodingException e) {
      throw new IllegalArgumentException(
          "a tensor name or metadata string is not valid Unicode (lone surrogate); safetensors"
              + " headers are UTF-8",
          e);
    }
  }

  private static void appendString(StringBuilder json, String s) {
    json.append('"');
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '"' -> json.append("\\\"");
        case '\\' -> json.append("\\\\");
        case '\b' -> json.append("\\b");
        case '\t' -> json.append("\\t");
        case '\n' -> json.append("\\n");
        case '\f' -> json.append("\\f");
        case '\r' -> json.append("\\r");
        default -> {
          if (c < 0x20) {
            json.append(String.format("\\u%04x", (int) c));
          } else {
            json.append(c);
          }
        }
      }
    }
    json.append('"');
  }
}
