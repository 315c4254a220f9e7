package dev.loraj.spark;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.loraj.bench.sweep.SweepConfig;
import dev.loraj.bench.sweep.SweepPlan;
import dev.loraj.bench.sweep.TrialRunner;
import dev.loraj.bench.sweep.TrialSpec;
import dev.loraj.core.adapter.AdapterRegistry;
import dev.loraj.core.adapter.ConfigCodec;
import dev.loraj.eval.task.Task;
import dev.loraj.eval.task.Tasks;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.stream.Stream;
import org.apache.spark.SparkEnv;
import org.apache.spark.api.java.function.Function;

/**
 * The body of one Spark task: runs one trial on the executor with the local runner's
 * {@link TrialRunner} and returns its record and adapter file to the driver.
 *
 * <p>The executor re-plans the sweep from the config's JSON and takes the trial by id (the plan
 * depends only on the config). The adapter is saved into a temporary directory, read back and
 * deleted: nothing is left on the executor's disk. Exceptions outside {@code TrialRunner} (the
 * task cannot be built) become a failed record like {@code TrialRunner}'s own; errors (out of
 * memory) fail the Spark task, and the driver records the trial as failed when Spark gives up.
 */
final class TrialTask implements Function<String, TrialOutput> {
  private static final long serialVersionUID = 1L;

  private final String sweepJson;

  TrialTask(String sweepJson) {
    this.sweepJson = sweepJson;
  }

  @Override
  public TrialOutput call(String id) throws IOException {
    SweepConfig cfg = SweepRecords.parseConfig(sweepJson);
    AdapterRegistry registry = AdapterRegistry.discover();
    ObjectMapper json = new ConfigCodec(registry).jsonMapper();
    TrialSpec spec = SweepRecords.find(SweepPlan.of(cfg, registry), id);
    Path tmp = Files.createTempDirectory("lora-spark-" + id);
    try {
      ObjectNode result;
      try {
        Task task = Tasks.create(cfg.task());
        result = new TrialRunner(registry, json).run(cfg.name(), cfg, spec, task, tmp);
      } catch (RuntimeException e) {
        result = SweepRecords.failed(json, cfg, spec, null, e.getClass().getSimpleName() + ": " + e.getMessage());
      }
      LinkedHashMap<String, byte[]> files = new LinkedHashMap<>();
      Path adapter = tmp.resolve(id);
      if (Files.isDirectory(adapter)) {
        try (Stream<Path> s = Files.list(adapter)) {
          // weights first, the config that makes the folder a PEFT adapter last
          for (Path f : s.filter(Files::isRegularFile).sorted(
              Comparator.comparing((Path f) -> f.getFileName().toString().endsWith(".json"))
                  .thenComparing(Path::getFileName)).toList()) {
            files.put(f.getFileName().toString(), Files.readAllBytes(f));
          }
        }
      }
      return new TrialOutput(id, json.writeValueAsString(result), files, where());
    } finally {
      deleteTree(tmp);
      // as in SweepRunner: a finished trial's native arrays are freed only when collected
      System.gc();
    }
  }

  private static String where() {
    String host;
    try {
      host = InetAddress.getLocalHost().getHostName();
    } catch (IOException e) {
      host = "?";
    }
    SparkEnv env = SparkEnv.get();
    return host + "/" + (env == null ? "?" : env.executorId());
  }

  private static void deleteTree(Path dir) {
    try (Stream<Path> s = Files.walk(dir)) {
      s.sorted(Comparator.reverseOrder()).forEach(p -> {
        try {
          Files.deleteIfExists(p);
        } catch (IOException e) {
          throw new UncheckedIOException(e);
        }
      });
    } catch (IOException | UncheckedIOException e) {
      // a leftover temp directory is harmless; the trial's result is what matters
    }
  }
}
