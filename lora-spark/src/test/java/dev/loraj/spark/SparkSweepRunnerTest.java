package dev.loraj.spark;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.loraj.bench.sweep.SweepConfig;
import dev.loraj.bench.sweep.SweepPlan;
import dev.loraj.bench.sweep.SweepRunner;
import dev.loraj.bench.sweep.TrialSpec;
import dev.loraj.core.adapter.AdapterRegistry;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.apache.spark.SparkConf;
import org.apache.spark.api.java.JavaSparkContext;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Spark runner in {@code local[2]} (two trials at a time in one JVM) against the local
 * {@link SweepRunner}: same trial files, same numbers, same report rows.
 */
class SparkSweepRunnerTest {

  /** Three trials (head-only and LoRA at two ranks, one seed), a few seconds in all. */
  static final String YAML = """
      name: spark-tiny
      task: {kind: synthetic, width: 16, classes: 3, shift_rank: 2, test_examples: 200, seed: 0}
      train: {steps: 8, batch_size: 32, learning_rate: 1.0e-2}
      seeds: [1]
      targets: {target_modules: all-linear}
      baselines:
        - {kind: head_only}
      variants:
        - {type: lora, rank: [1, 2], alpha: 4}
      """;

  /** Fields that are measurements of time, memory or the moment of the run, not results. */
  static final List<String> MEASURED = List.of(
      "peak_offheap_bytes", "peak_heap_bytes", "peak_rss_bytes", "peak_rss_delta_bytes", "rss_after_setup_bytes",
      "peak_rss_source", "step_ms_median", "tokens_per_s", "train_seconds", "provenance");

  static final PrintStream QUIET = new PrintStream(OutputStream.nullOutputStream());
  static final ObjectMapper JSON = new ObjectMapper();
  static JavaSparkContext jsc;

  @BeforeAll
  static void startSpark() {
    jsc = new JavaSparkContext(new SparkConf()
        .setMaster("local[2]")
        .setAppName("SparkSweepRunnerTest")
        .set("spark.ui.enabled", "false")
        .set("spark.driver.host", "127.0.0.1")
        .set("spark.driver.bindAddress", "127.0.0.1"));
  }

  @AfterAll
  static void stopSpark() {
    if (jsc != null) {
      jsc.close();
    }
  }

  @Test
  void sparkAndLocalRunnersWriteTheSameTrialsAdaptersAndReport(@TempDir Path tmp) throws Exception {
    SweepConfig cfg = SweepConfig.parse(YAML);
    Path spark = tmp.resolve("spark");
    Path local = tmp.resolve("local");
    SweepRunner.Outcome s = SparkSweepRunner.run(jsc, cfg, spark, System.err);
    SweepRunner.Outcome l = new SweepRunner(AdapterRegistry.discover(), QUIET).run(cfg, local, 0, 1);
    assertThat(s).isEqualTo(new SweepRunner.Outcome(3, 0, 3, 0));
    assertThat(l).isEqualTo(s);

    assertThat(Files.readString(spark.resolve("sweep.json"))).isEqualTo(Files.readString(local.resolve("sweep.json")));
    Map<String, JsonNode> a = trials(spark);
    Map<String, JsonNode> b = trials(local);
    assertThat(a.keySet()).hasSize(3).isEqualTo(b.keySet());
    for (String id : a.keySet()) {
      JsonNode x = a.get(id);
      assertThat(x.path("status").asText()).as(id).isEqualTo("ok");
      assertThat(x.path("metrics").path("accuracy").isNumber()).as(id).isTrue();
      // everything but the measurements: metrics, loss curve, parameter counts, adapter size
      assertThat(withoutMeasured(x)).as(id).isEqualTo(withoutMeasured(b.get(id)));
      System.err.printf("%s: spark accuracy %s, local accuracy %s%n", id,
          x.path("metrics").path("accuracy"), b.get(id).path("metrics").path("accuracy"));
    }
    // the adapters came back from the executors: same files, same bytes
    assertThat(adapters(spark)).isNotEmpty().isEqualTo(adapters(local));

    // the local runner's report step on its directory; the Spark runner wrote its own
    dev.loraj.bench.report.Report.generate(local);
    JsonNode rs = JSON.readTree(spark.resolve("summary.json").toFile());
    JsonNode rl = JSON.readTree(local.resolve("summary.json").toFile());
    assertThat(rows(rs)).hasSize(3).isEqualTo(rows(rl));
    assertThat(spark.resolve("report.md")).exists();
    assertThat(spark.resolve("report.html")).exists();
  }

  @Test
  void aResumedSparkSweepRunsOnlyTheTrialsWithoutAFile(@TempDir Path tmp) throws Exception {
    SweepConfig cfg = SweepConfig.parse(YAML);
    List<String> ids = SweepPlan.of(cfg, AdapterRegistry.discover()).trials().stream().map(TrialSpec::id).toList();
    // a trial file from an earlier run (here: a local runner's run of the same sweep)
    Path earlier = tmp.resolve("earlier");
    new SweepRunner(AdapterRegistry.discover(), QUIET).run(cfg, earlier, 0, 3); // first trial only
    Path dir = tmp.resolve("resumed");
    Files.createDirectories(dir.resolve("trials"));
    Path kept = dir.resolve("trials").resolve(ids.get(0) + ".json");
    Files.copy(earlier.resolve("trials").resolve(ids.get(0) + ".json"), kept);
    String before = Files.readString(kept);

    SweepRunner.Outcome o = SparkSweepRunner.run(jsc, cfg, dir, QUIET);
    assertThat(o).isEqualTo(new SweepRunner.Outcome(3, 1, 2, 0));
    assertThat(Files.readString(kept)).isEqualTo(before); // not rerun, not rewritten
    assertThat(trials(dir).keySet()).containsExactlyInAnyOrderElementsOf(ids);

    // everything finished: a third run runs nothing and rewrites nothing
    Map<String, JsonNode> after = trials(dir);
    SweepRunner.Outcome again = SparkSweepRunner.run(jsc, cfg, dir, QUIET);
    assertThat(again).isEqualTo(new SweepRunner.Outcome(3, 3, 0, 0));
    assertThat(trials(dir)).isEqualTo(after);
  }

  @Test
  void aTrialThatFailsIsRecordedAsTheLocalRunnerRecordsIt(@TempDir Path tmp) throws Exception {
    // targets that match no layer: valid when planned, an error when the adapter is placed
    SweepConfig cfg = SweepConfig.parse(YAML.replace("  - {type: lora, rank: [1, 2], alpha: 4}",
        "  - {type: lora, rank: 1, alpha: 4, targets: {target_modules: [no_such_layer]}}"));
    Path spark = tmp.resolve("spark");
    Path local = tmp.resolve("local");
    SweepRunner.Outcome s = SparkSweepRunner.run(jsc, cfg, spark, QUIET);
    SweepRunner.Outcome l = new SweepRunner(AdapterRegistry.discover(), QUIET).run(cfg, local, 0, 1);
    assertThat(s).isEqualTo(l);
    assertThat(s.failed()).isEqualTo(1);
    Map<String, JsonNode> a = trials(spark);
    Map<String, JsonNode> b = trials(local);
    assertThat(a.keySet()).isEqualTo(b.keySet());
    for (String id : a.keySet()) {
      assertThat(withoutMeasured(a.get(id))).as(id).isEqualTo(withoutMeasured(b.get(id)));
    }
    assertThat(a.values().stream().filter(t -> t.path("status").asText().equals("failed")).toList())
        .singleElement().satisfies(t -> assertThat(t.path("error").asText()).isNotBlank());
    assertThat(Files.readString(spark.resolve("report.md"))).contains("ailed");
  }

  @Test
  void aTrialWhoseSparkTaskFailsIsRecordedAsFailedAndTheOthersFinish(@TempDir Path tmp) throws Exception {
    // CrashingVariant throws an Error past the trial runner: the task fails, Spark gives up on it
    SweepConfig cfg = SweepConfig.parse(YAML.replace("  - {type: lora, rank: [1, 2], alpha: 4}",
        "  - {type: lora, rank: 1, alpha: 4}\n  - {type: crash, rank: 1, alpha: 4}"));
    Path dir = tmp.resolve("spark");
    SweepRunner.Outcome o = SparkSweepRunner.run(jsc, cfg, dir, QUIET);
    assertThat(o).isEqualTo(new SweepRunner.Outcome(3, 0, 3, 1));
    JsonNode crashed = trials(dir).values().stream()
        .filter(t -> t.path("variant").asText().equals("crash")).findFirst().orElseThrow();
    assertThat(crashed.path("status").asText()).isEqualTo("failed");
    assertThat(crashed.path("error").asText()).startsWith("spark task failed: ").contains("crash variant");
    // labelled like the executor would have (task, dataset, metric direction), so the report reads it
    assertThat(crashed.path("task").asText()).isNotBlank();
    assertThat(crashed.path("higher_is_better").asBoolean()).isTrue();
    assertThat(Files.readString(dir.resolve("report.md"))).contains(crashed.path("id").asText());
    assertThat(trials(dir).values()).filteredOn(t -> t.path("status").asText().equals("ok")).hasSize(2);
  }

  @Test
  void theConfigSentToExecutorsPlansTheSameTrials() throws Exception {
    AdapterRegistry registry = AdapterRegistry.discover();
    for (SweepConfig cfg : List.of(SweepConfig.parse(YAML),
        SweepConfig.read(Path.of("..", "examples", "synthetic.yaml")))) {
      ObjectMapper json = new dev.loraj.core.adapter.ConfigCodec(registry).jsonMapper();
      SweepConfig back = SweepRecords.parseConfig(SweepRecords.configJson(json, cfg));
      assertThat(ids(SweepPlan.of(back, registry))).isEqualTo(ids(SweepPlan.of(cfg, registry)));
    }
  }

  @Test
  void sparksJacksonModulesDoNotChangeHowConfigsRead() throws Exception {
    // jackson-module-scala is on this classpath (Spark's); configs must still read as plain Java
    ObjectMapper m = dev.loraj.core.adapter.ConfigCodec.configure(new ObjectMapper());
    assertThat(m.getRegisteredModuleIds()).isEmpty();
    Object untyped = m.treeToValue(m.readTree("{\"b\": [1, {\"c\": 2}]}"), Object.class);
    assertThat(untyped).isInstanceOf(java.util.Map.class);
    assertThat(((Map<?, ?>) untyped).get("b")).isInstanceOf(java.util.List.class);
  }

  static List<String> ids(SweepPlan plan) {
    return plan.trials().stream().map(TrialSpec::id).toList();
  }

  static Map<String, JsonNode> trials(Path dir) throws IOException {
    Map<String, JsonNode> out = new TreeMap<>();
    try (Stream<Path> s = Files.list(dir.resolve("trials"))) {
      for (Path p : s.filter(f -> f.getFileName().toString().endsWith(".json")).toList()) {
        out.put(p.getFileName().toString().replace(".json", ""), JSON.readTree(p.toFile()));
      }
    }
    return out;
  }

  static Map<String, String> adapters(Path dir) throws IOException {
    Map<String, String> out = new TreeMap<>();
    Path root = dir.resolve("adapters");
    if (!Files.isDirectory(root)) {
      return out;
    }
    try (Stream<Path> s = Files.walk(root)) {
      for (Path p : s.filter(Files::isRegularFile).toList()) {
        out.put(root.relativize(p).toString(),
            com.google.common.hash.Hashing.sha256().hashBytes(Files.readAllBytes(p)).toString());
      }
    }
    return out;
  }

  static JsonNode withoutMeasured(JsonNode trial) {
    com.fasterxml.jackson.databind.node.ObjectNode n = trial.deepCopy();
    MEASURED.forEach(n::remove);
    return n;
  }

  /** Group and metrics of each report row (timing and memory columns are measurements). */
  static List<String> rows(JsonNode summary) {
    List<String> out = new ArrayList<>();
    for (JsonNode row : summary.path("rows")) {
      out.add(row.path("group").asText() + " " + row.path("metrics"));
    }
    return out;
  }
}
