package dev.loraj.eval.continual;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.loraj.core.io.AtomicFiles;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The run files of a continual comparison: {@code runs/<method>-order-<i>-<j>-...-seed<s>.json}
 * (the order as task indices), one per
 * finished run, written atomically (temporary file + rename) as soon as the run ends, so a killed
 * comparison loses at most the run in progress and a rerun skips the runs already on disk.
 *
 * <p>{@code config.json} beside them records what every run depends on: the configuration without
 * its grid ({@code methods}, {@code seeds}, {@code orders}) and {@code out}. A rerun with more
 * seeds, orders or methods reuses the finished runs; a rerun with a different sequence, training
 * or adapter setting into the same directory is refused rather than mixing two setups in one table.
 */
public final class ContinualRunFiles {

  private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

  private final Path dir;

  public ContinualRunFiles(Path dir) {
    this.dir = dir;
  }

  /**
   * Records {@code config} in {@code config.json}, or checks it against the one already there.
   *
   * @throws IllegalStateException when the directory holds runs of a different configuration
   */
  public void claim(JsonNode config) throws IOException {
    ObjectNode stripped = config.deepCopy();
    stripped.remove(List.of("out", "name", "methods", "seeds", "orders"));
    Path file = dir.resolve("config.json");
    Files.createDirectories(dir.resolve("runs"));
    if (Files.exists(file)) {
      JsonNode existing = JSON.readTree(file.toFile());
      if (!existing.equals(stripped)) {
        throw new IllegalStateException(dir + " holds runs of a different continual configuration (see "
            + file + "); use another --out or remove the directory");
      }
      return;
    }
    AtomicFiles.writeString(file, JSON.writeValueAsString(stripped));
  }

  public Path file(ContinualMethod method, List<Integer> order, long seed) {
    StringBuilder name = new StringBuilder(method.id()).append("-order");
    order.forEach(t -> name.append('-').append(t));
    return dir.resolve("runs").resolve(name.append("-seed").append(seed).append(".json").toString());
  }

  /** The finished run, if its file exists. */
  public Optional<ContinualRun> read(ContinualMethod method, List<Integer> order, long seed) {
    Path f = file(method, order, seed);
    if (!Files.exists(f)) {
      return Optional.empty();
    }
    try {
      JsonNode n = JSON.readTree(f.toFile());
      List<String> tasks = new ArrayList<>();
      n.path("order").forEach(t -> tasks.add(t.asText()));
      JsonNode acc = n.path("accuracy");
      double[][] r = new double[acc.size()][];
      for (int i = 0; i < r.length; i++) {
        r[i] = new double[acc.get(i).size()];
        for (int j = 0; j < r[i].length; j++) {
          r[i][j] = acc.get(i).get(j).asDouble();
        }
      }
      if (r.length != tasks.size() || tasks.size() != order.size()) {
        throw new IllegalStateException(f + ": " + r.length + " rows of accuracy, " + tasks.size()
            + " tasks; expected " + order.size());
      }
      return Optional.of(new ContinualRun(ContinualMethod.parse(n.path("method").asText()), n.path("seed").asLong(),
          tasks, r));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read run file " + f, e);
    }
  }

  public void write(ContinualRun run, List<Integer> order, double seconds) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("method", run.method().id());
    m.put("seed", run.seed());
    m.put("order", run.order());
    m.put("accuracy", run.accuracy());
    m.put("aa", run.averageAccuracy());
    m.put("bwt", run.backwardTransfer());
    m.put("forgetting", ContinualMetrics.forgetting(run.accuracy()));
    m.put("seconds", seconds);
    try {
      AtomicFiles.writeString(file(run.method(), order, run.seed()), JSON.writeValueAsString(m));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write run file " + file(run.method(), order, run.seed()), e);
    }
  }
}
