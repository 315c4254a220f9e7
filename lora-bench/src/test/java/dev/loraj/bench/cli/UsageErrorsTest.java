package dev.loraj.bench.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import picocli.CommandLine;

/**
 * Bad input on the command line and in the YAML files it names, one table row per case and
 * command: every row exits 2 and prints exactly one line, which contains the expected words.
 * Nothing in the table gets as far as loading a model or running a trial.
 */
class UsageErrorsTest {
  private static Path dir;

  static final String SWEEP = dev.loraj.bench.sweep.SweepRunnerTest.YAML;

  static final String CONTINUAL = """
      sequence: {kind: synthetic, tasks: 3, width: 16}
      train: {steps: 4, batch_size: 8, learning_rate: 1.0e-2}
      adapter: {rank: 2, alpha: 4}
      seeds: [1]
      """;

  @BeforeAll
  static void writeFiles() throws IOException {
    dir = Files.createTempDirectory("usage-errors");
    Files.createDirectories(dir.resolve("a-directory"));
    Files.writeString(dir.resolve("a-file"), "x");
    sweep("seeds-empty", SWEEP.replace("seeds: [1, 2]", "seeds: []"));
    sweep("seeds-text", SWEEP.replace("seeds: [1, 2]", "seeds: [1, two]"));
    sweep("lr-fast", SWEEP.replace("learning_rate: 1.0e-2", "learning_rate: \"fast\""));
    sweep("lr-nan", SWEEP.replace("learning_rate: 1.0e-2", "learning_rate: .nan"));
    sweep("lr-zero", SWEEP.replace("learning_rate: 1.0e-2", "learning_rate: 0"));
    sweep("rnak", SWEEP.replace("rank: [1, 2]", "rnak: 8"));
    sweep("rank-float", SWEEP.replace("rank: [1, 2]", "rank: 2.5"));
    sweep("rank-text", SWEEP.replace("rank: [1, 2]", "rank: \"8\""));
    sweep("rank-zero", SWEEP.replace("rank: [1, 2]", "rank: 0"));
    sweep("batch-zero", SWEEP.replace("batch_size: 32", "batch_size: 0"));
    sweep("batch-float", SWEEP.replace("batch_size: 32", "batch_size: 32.5"));
    sweep("steps-text", SWEEP.replace("steps: 8", "steps: eight"));
    sweep("schedule", SWEEP.replace("learning_rate: 1.0e-2}", "learning_rate: 1.0e-2, schedule: cosin}"));
    sweep("train-typo", SWEEP.replace("batch_size: 32", "batch_szie: 32"));
    sweep("top-rnak", SWEEP + "rnak: 8\n");
    sweep("top-typo", SWEEP.replace("seeds: [1, 2]", "seed: [1, 2]"));
    sweep("task-kind", SWEEP.replace("kind: synthetic", "kind: synthetc"));
    sweep("task-width", SWEEP.replace("width: 16", "width: -3"));
    sweep("variant-type", SWEEP.replace("type: lora", "type: lroa"));
    sweep("variants-map", SWEEP.replace("  - {type: lora, rank: [1, 2], alpha: 4}", "  lora: {rank: 1}"));
    sweep("axis-empty", SWEEP.replace("rank: [1, 2]", "rank: []"));
    sweep("baseline-kind", SWEEP.replace("kind: head_only", "kind: head-only"));
    sweep("not-yaml", "name: [tiny\n");
    sweep("a-list", "- 1\n- 2\n");
    sweep("empty", "");
    continual("c-lr-fast", CONTINUAL.replace("learning_rate: 1.0e-2", "learning_rate: \"fast\""));
    continual("c-rnak", CONTINUAL.replace("rank: 2", "rnak: 2"));
    continual("c-seeds-empty", CONTINUAL.replace("seeds: [1]", "seeds: []"));
    continual("c-top-typo", CONTINUAL + "order: [[0, 1, 2]]\n");
    continual("c-order", CONTINUAL + "orders: [[0, 1, 1]]\n");
    continual("c-method", CONTINUAL + "methods: [seq-lora, olora]\n");
    continual("c-steps-float", CONTINUAL.replace("steps: 4", "steps: 4.5"));
    continual("c-threads", CONTINUAL.replace("sequence: {kind: synthetic", "sequence: {kind: synthetc"));
  }

  private static void sweep(String name, String text) throws IOException {
    Files.writeString(dir.resolve(name + ".yaml"), text);
  }

  private static void continual(String name, String text) throws IOException {
    Files.writeString(dir.resolve(name + ".yaml"), text);
  }

  @AfterAll
  static void deleteFiles() throws IOException {
    try (Stream<Path> files = Files.walk(dir)) {
      for (Path p : files.sorted(java.util.Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    }
  }

  static String f(String name) {
    return dir.resolve(name).toString();
  }

  static String y(String name) {
    return f(name + ".yaml");
  }

  static Stream<Arguments> table() {
    return Stream.of(
        // lora
        row("an unknown command", List.of("swep"), "Unmatched argument", "sweep"),
        row("an unknown top-level option", List.of("--bogus"), "Unknown option"),
        // lora variants
        row("variants: an unknown option", List.of("variants", "--jsn"), "Unknown option", "--json"),
        // lora sweep: the command line
        row("sweep: no CONFIG", List.of("sweep"), "Missing required parameter", "CONFIG"),
        row("sweep: a missing file", List.of("sweep", f("nope.yaml")), "does not exist"),
        row("sweep: a directory", List.of("sweep", f("a-directory")), "is a directory"),
        row("sweep: --shard 3/2", List.of("sweep", y("seeds-empty"), "--shard", "3/2"), "1 <= I <= N"),
        row("sweep: --shard 0/2", List.of("sweep", y("seeds-empty"), "--shard", "0/2"), "1 <= I <= N"),
        row("sweep: --shard x", List.of("sweep", y("seeds-empty"), "--shard", "x"), "expected I/N"),
        row("sweep: --out is a file", List.of("sweep", y("rnak"), "--out", f("a-file")), "--out", "is a file"),
        // lora sweep: the YAML
        row("sweep: seeds: []", List.of("sweep", y("seeds-empty")), "seeds = []", "non-empty list"),
        row("sweep: seeds: [1, two]", List.of("sweep", y("seeds-text")), "seeds[1] = \"two\"", "integer"),
        row("sweep: learning_rate: \"fast\"", List.of("sweep", y("lr-fast")), "train.learning_rate = \"fast\"", "number > 0"),
        row("sweep: learning_rate: .nan", List.of("sweep", y("lr-nan")), "'.nan'", "line 3"),
        row("sweep: learning_rate: 0", List.of("sweep", y("lr-zero")), "train.learning_rate = 0", "number > 0"),
        row("sweep: rnak: 8", List.of("sweep", y("rnak")), "unknown field 'rnak'", "did you mean 'rank'?"),
        row("sweep: rank: 2.5", List.of("sweep", y("rank-float")), "rank = 2.5", "expected an integer"),
        row("sweep: rank: \"8\"", List.of("sweep", y("rank-text")), "rank = \"8\"", "expected an integer"),
        row("sweep: rank: 0", List.of("sweep", y("rank-zero")), "rank"),
        row("sweep: batch_size: 0", List.of("sweep", y("batch-zero")), "train.batch_size = 0", "[1, "),
        row("sweep: batch_size: 32.5", List.of("sweep", y("batch-float")), "train.batch_size = 32.5", "integer"),
        row("sweep: steps: eight", List.of("sweep", y("steps-text")), "train.steps = \"eight\""),
        row("sweep: schedule: cosin", List.of("sweep", y("schedule")), "train.schedule = 'cosin'", "did you mean 'cosine'?"),
        row("sweep: batch_szie", List.of("sweep", y("train-typo")), "unknown key 'batch_szie' in train", "did you mean 'batch_size'?"),
        row("sweep: rnak: 8 at the top", List.of("sweep", y("top-rnak")), "unknown key 'rnak' at the top level",
            "did you mean 'rank' in an entry of variants:?"),
        row("sweep: seed:", List.of("sweep", y("top-typo")), "unknown key 'seed'", "did you mean 'seeds'?"),
        row("sweep: task kind synthetc", List.of("sweep", y("task-kind")), "task.kind = 'synthetc'", "did you mean 'synthetic'?"),
        row("sweep: task width -3", List.of("sweep", y("task-width")), "task.width = -3"),
        row("sweep: type: lroa", List.of("sweep", y("variant-type")), "unknown variant 'lroa'", "did you mean 'lora'?"),
        row("sweep: variants a mapping", List.of("sweep", y("variants-map")), "variants = ", "expected a list"),
        row("sweep: rank: []", List.of("sweep", y("axis-empty")), "variants[0].rank = []"),
        row("sweep: baseline head-only", List.of("sweep", y("baseline-kind")), "baselines[0].kind = 'head-only'", "did you mean 'head_only'?"),
        row("sweep: not YAML", List.of("sweep", y("not-yaml")), "is not valid YAML", "line"),
        row("sweep: a list", List.of("sweep", y("a-list")), "is a list", "mapping"),
        row("sweep: empty", List.of("sweep", y("empty")), "is empty"),
        // lora continual
        row("continual: no --config", List.of("continual"), "Missing required option", "--config"),
        row("continual: a missing file", List.of("continual", "--config", f("nope.yaml")), "does not exist"),
        row("continual: a directory", List.of("continual", "--config", f("a-directory")), "is a directory"),
        row("continual: --out is a file", List.of("continual", "--config", y("c-rnak"), "--out", f("a-file")), "is a file"),
        row("continual: learning_rate: \"fast\"", List.of("continual", "--config", y("c-lr-fast")), "train.learning_rate = \"fast\""),
        row("continual: rnak", List.of("continual", "--config", y("c-rnak")), "unknown key 'rnak' in adapter", "did you mean 'rank'?"),
        row("continual: seeds: []", List.of("continual", "--config", y("c-seeds-empty")), "seeds = []"),
        row("continual: order:", List.of("continual", "--config", y("c-top-typo")), "unknown key 'order'", "did you mean 'orders'?"),
        row("continual: order repeats a task", List.of("continual", "--config", y("c-order")), "orders[0]", "permutation"),
        row("continual: method olora", List.of("continual", "--config", y("c-method")), "methods[1] = 'olora'", "did you mean 'o-lora'?"),
        row("continual: steps: 4.5", List.of("continual", "--config", y("c-steps-float")), "train.steps = 4.5", "integer"),
        row("continual: kind synthetc", List.of("continual", "--config", y("c-threads")), "sequence.kind = 'synthetc'"),
        // lora report
        row("report: a missing directory", List.of("report", f("nope")), "does not exist"),
        row("report: a file", List.of("report", f("a-file")), "is a file"),
        // lora logits
        row("logits: a missing model", List.of("logits", "--model", f("nope"), "--tokens", "1"), "--model", "does not exist"),
        row("logits: tokens not numbers", List.of("logits", "--model", f("a-directory"), "--tokens", "a,b"), "Invalid value", "--tokens"),
        row("logits: a negative token", List.of("logits", "--model", f("a-directory"), "--tokens", "-1"), "--tokens = -1"),
        row("logits: adapter is a file", List.of("logits", "--model", f("a-directory"), "--adapter", f("a-file"), "--tokens", "1"), "--adapter", "is a file"),
        // lora params
        row("params: --rank 0", List.of("params", "--model", "roberta-base", "--targets", "query", "--rank", "0"), "--rank = 0"),
        row("params: --rank x", List.of("params", "--model", "roberta-base", "--targets", "query", "--rank", "x"), "Invalid value", "--rank"),
        row("params: no --targets", List.of("params", "--model", "roberta-base", "--rank", "8"), "Missing required option", "--targets"),
        // lora memory
        row("memory: --rank 0", List.of("memory", "--model", "llama-65b", "--rank", "0"), "--rank = 0"),
        row("memory: --batch 0", List.of("memory", "--model", "llama-65b", "--batch", "0"), "--batch = 0"),
        row("memory: --seq -1", List.of("memory", "--model", "llama-65b", "--seq", "-1"), "--seq = -1"),
        row("memory: --seq 1.5", List.of("memory", "--model", "llama-65b", "--seq", "1.5"), "Invalid value", "--seq"),
        row("memory: --base-dtype fp8", List.of("memory", "--model", "llama-65b", "--base-dtype", "fp8"), "--base-dtype = 'fp8'", "bf16"),
        row("memory: two --base-dtype values without --measure", List.of("memory", "--model", "llama-65b", "--base-dtype", "bf16,f32"), "--base-dtype: one value without --measure"),
        // lora init-model
        row("init-model: an encoder card", List.of("init-model", "--card", "roberta-base", "--out", f("new-model")), "--card = 'roberta-base'", "qwen2.5-0.5b"),
        row("init-model: --dtype int8", List.of("init-model", "--card", "qwen2.5-0.5b", "--dtype", "int8", "--out", f("new-model")), "--dtype = 'int8'", "bf16"),
        row("init-model: --shard-size 2TB", List.of("init-model", "--card", "qwen2.5-0.5b", "--shard-size", "2TB", "--out", f("new-model")), "--shard-size = '2TB'"),
        row("init-model: --out is a file", List.of("init-model", "--card", "qwen2.5-0.5b", "--out", f("a-file")), "--out", "is a file"),
        row("init-model: --out not empty", List.of("init-model", "--card", "qwen2.5-0.5b", "--out", dir.toString()), "not empty"),
        // lora quant-error
        row("quant-error: --block 0", List.of("quant-error", "--block", "0"), "--block = 0"),
        row("quant-error: --rows 0", List.of("quant-error", "--rows", "0"), "--rows = 0"),
        row("quant-error: --matrices -1", List.of("quant-error", "--matrices", "-1"), "--matrices = -1"),
        // lora bench step
        row("bench step: --batch 0", List.of("bench", "step", "--arch", "bert", "--mode", "lora", "--batch", "0"), "--batch = 0"),
        row("bench step: --seq 0", List.of("bench", "step", "--arch", "bert", "--mode", "lora", "--seq", "0"), "--seq = 0"),
        row("bench step: --rank 0", List.of("bench", "step", "--arch", "bert", "--mode", "lora", "--rank", "0"), "--rank = 0"),
        row("bench step: --threads -1", List.of("bench", "step", "--arch", "bert", "--mode", "lora", "--threads", "-1"), "--threads = -1"),
        row("bench step: no --arch", List.of("bench", "step", "--variant", "dora"), "Missing required option", "--arch"),
        row("sweep: --jobs 0", List.of("sweep", y("rank-zero"), "--jobs", "0"), "--jobs = 0"),
        // lora jmh
        row("jmh: an unknown JMH option", List.of("jmh", "-zz"), "JMH options"),
        // lora reproduce
        row("reproduce: an unknown id", List.of("reproduce", "no-such-id"), "no reproduction 'no-such-id'"));
  }

  static Arguments row(String name, List<String> args, String... expected) {
    return Arguments.of(name, args, List.of(expected));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("table")
  void exitsTwoWithOneClearLine(String name, List<String> args, List<String> expected) {
    StringWriter err = new StringWriter();
    ByteArrayOutputStream systemErr = new ByteArrayOutputStream();
    PrintStream old = System.err;
    int rc;
    System.setErr(new PrintStream(systemErr, true, StandardCharsets.UTF_8));
    try {
      CommandLine cl = LoraCli.commandLine();
      cl.setErr(new PrintWriter(err, true));
      rc = cl.execute(args.toArray(String[]::new));
    } finally {
      System.setErr(old);
    }
    // without the Jazzer agent's "INFO: Instrumented ..." lines, printed when a fuzz test in the
    // same JVM has installed it and a class loads
    String printed = (err + systemErr.toString(StandardCharsets.UTF_8)).lines()
        .filter(l -> !l.startsWith("INFO: ")).collect(java.util.stream.Collectors.joining("\n")).strip();
    assertThat(rc).as("exit code of lora %s; printed: %s", String.join(" ", args), printed).isEqualTo(2);
    assertThat(printed.lines().count()).as("lines printed: %s", printed).isEqualTo(1);
    assertThat(printed).startsWith("error: ").contains(expected);
  }
}
