package dev.loraj.core.golden;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.loraj.core.io.SafetensorsFile;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Access to the golden files {@code golden/peft_v1} (PyTorch + transformers + PEFT, see the
 * README beside them): the index {@code cases.json} and {@code expected.safetensors}. Works from a
 * directory on the class path and from the lora-core test-jar (copied to a temp directory), so
 * other modules' tests can use the same files.
 */
public final class PeftGolden {

  public static final String ROOT = "/golden/peft_v1";
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Map<String, Path> ROOTS = new java.util.HashMap<>();

  private PeftGolden() {}

  /** The golden directory as a file system path. */
  public static Path root() {
    return directory(ROOT);
  }

  /**
   * A golden directory beside this one ({@code "/golden/combination_v1"}) as a file system path:
   * it must hold {@code cases.json} and list its files in {@code SHA256SUMS}.
   */
  public static synchronized Path directory(String resourceRoot) {
    return ROOTS.computeIfAbsent(resourceRoot, PeftGolden::locate);
  }

  private static Path locate(String root) {
    URL url = PeftGolden.class.getResource(root + "/cases.json");
    if (url == null) {
      throw new IllegalStateException("classpath resource " + root + "/cases.json not found");
    }
    try {
      if (url.getProtocol().equals("file")) {
        return Path.of(url.toURI()).getParent();
      }
      return copyOut(root);
    } catch (URISyntaxException | IOException e) {
      throw new IllegalStateException("cannot open " + url, e);
    }
  }

  /** Copies the files listed in SHA256SUMS out of a jar. */
  private static Path copyOut(String root) throws IOException {
    Path dir = Files.createTempDirectory(root.substring(root.lastIndexOf('/') + 1));
    dir.toFile().deleteOnExit();
    List<String> names = new ArrayList<>();
    names.add("SHA256SUMS");
    try (InputStream in = PeftGolden.class.getResourceAsStream(root + "/SHA256SUMS")) {
      for (String line : new String(in.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8).split("\n")) {
        String[] parts = line.trim().split("\\s+", 2);
        if (parts.length == 2) {
          names.add(parts[1].startsWith("*") ? parts[1].substring(1) : parts[1]);
        }
      }
    }
    for (String n : names) {
      Path target = dir.resolve(n);
      Files.createDirectories(target.getParent());
      try (InputStream in = PeftGolden.class.getResourceAsStream(root + "/" + n)) {
        if (in == null) {
          throw new IOException("resource " + root + "/" + n + " missing");
        }
        Files.copy(in, target, StandardCopyOption.REPLACE_EXISTING);
      }
    }
    return dir;
  }

  public static JsonNode index() {
    return directoryIndex(root());
  }

  /** {@code cases.json} of a golden directory. */
  public static JsonNode directoryIndex(Path dir) {
    try {
      return JSON.readTree(dir.resolve("cases.json").toFile());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  public static List<JsonNode> cases() {
    List<JsonNode> out = new ArrayList<>();
    index().path("cases").forEach(out::add);
    return out;
  }

  public static JsonNode caseNamed(String name) {
    for (JsonNode c : cases()) {
      if (c.path("name").asText().equals(name)) {
        return c;
      }
    }
    throw new IllegalArgumentException("no golden case " + name);
  }

  /** A tensor of expected.safetensors as FLOAT. */
  public static INDArray expected(String key) {
    return expected(root(), key);
  }

  /** A tensor of {@code dir}'s expected.safetensors as FLOAT. */
  public static INDArray expected(Path dir, String key) {
    try (SafetensorsFile f = SafetensorsFile.open(dir.resolve("expected.safetensors"))) {
      return f.getFloat(key);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** {@code input_ids} of a case or model entry as INT64 [batch, seq]. */
  public static INDArray inputIds(JsonNode entry) {
    return input(entry, "input_ids");
  }

  /**
   * Every input of a case or model entry ({@code input_ids}; BERT's also {@code attention_mask}
   * and {@code token_type_ids}), each INT64 [batch, seq].
   */
  public static Map<String, INDArray> inputs(JsonNode entry) {
    Map<String, INDArray> out = new LinkedHashMap<>();
    entry.path("inputs").fieldNames().forEachRemaining(n -> out.put(n, input(entry, n)));
    return out;
  }

  /** Input {@code name} of a case or model entry as INT64 [batch, seq]. */
  public static INDArray input(JsonNode entry, String name) {
    JsonNode ids = entry.path("inputs").path(name);
    if (!ids.isArray() || ids.size() == 0) {
      throw new IllegalArgumentException("golden entry has no input '" + name + "'");
    }
    int b = ids.size();
    int s = ids.get(0).size();
    long[] v = new long[b * s];
    for (int i = 0; i < b; i++) {
      for (int j = 0; j < s; j++) {
        v[i * s + j] = ids.get(i).get(j).asLong();
      }
    }
    return Nd4j.createFromArray(v).reshape(b, s).castTo(DataType.INT64);
  }

  /** max |a - b| after flattening both (the Java logits are [b*s, vocab], torch's [b, s, vocab]). */
  public static double maxAbsDiff(INDArray a, INDArray b) {
    INDArray x = a.castTo(DataType.DOUBLE).reshape(a.length());
    INDArray y = b.castTo(DataType.DOUBLE).reshape(b.length());
    if (x.length() != y.length()) {
      throw new IllegalArgumentException("lengths differ: " + x.length() + " vs " + y.length());
    }
    return x.sub(y).amaxNumber().doubleValue();
  }
}
