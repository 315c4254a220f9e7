package dev.loraj.bench.sweep;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.loraj.bench.report.Report;
import dev.loraj.core.adapter.AdapterRegistry;
import dev.loraj.core.checkpoint.PeftAdapters;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

public class SweepRunnerTest {

  /** A six-trial synthetic sweep, also the valid base of the CLI's bad-input cases. */
  public static final String YAML = """
      name: tiny
      task: {kind: synthetic, width: 16, classes: 3, shift_rank: 2, test_examples: 200, seed: 0}
      train: {steps: 8, batch_size: 32, learning_rate: 1.0e-2}
      seeds: [1, 2]
      targets: {target_modules: all-linear}
      baselines:
        - {kind: head_only}
      variants:
        - {type: lora, rank: [1, 2], alpha: 4}
      """;

  final AdapterRegistry registry = AdapterRegistry.discover();
  final PrintStream quiet = new PrintStream(java.io.OutputStream.nullOutputStream());

  @Test
  void planIsTheGridTimesSeedsPlusBaselinesWithStableIds() throws Exception {
    SweepPlan plan = SweepPlan.of(SweepConfig.parse(YAML), registry);
    assertThat(plan.trials()).hasSize(6);
    assertThat(plan.trials().stream().map(TrialSpec::group).distinct().toList())
        .containsExactly("head_only", "lora r=1 a=4", "lora r=2 a=4");
    assertThat(SweepPlan.of(SweepConfig.parse(YAML), registry).trials().stream().map(TrialSpec::id).toList())
        .isEqualTo(plan.trials().stream().map(TrialSpec::id).toList());
    // shards partition the plan
    List<String> all = Stream.of(plan.shard(0, 2), plan.shard(1, 2)).flatMap(List::stream).map(TrialSpec::id).sorted().toList();
    assertThat(all).isEqualTo(plan.trials().stream().map(TrialSpec::id).sorted().toList());
  }

  @Test
  void entriesThatOverrideTargetsAreSeparateGroups() throws Exception {
    String yaml = YAML.replace("  - {type: lora, rank: [1, 2], alpha: 4}",
        "  - {type: lora, rank: 2, alpha: 4}\n  - {type: lora, rank: 2, alpha: 4, targets: {target_modules: [layers.0]}}");
    assertThat(yaml).contains("targets: {target_modules: [layers.0]}");
    SweepPlan plan = SweepPlan.of(SweepConfig.parse(yaml), registry);
    assertThat(plan.trials().stream().map(TrialSpec::group).distinct().toList())
        .containsExactly("head_only", "lora r=2 a=4", "lora r=2 a=4 targets=[layers.0]");
  }

  @Test
  void checkpointingIsABooleanTrainKeyOfTheTrialsIdentity() throws Exception {
    String on = YAML.replace("learning_rate: 1.0e-2}", "learning_rate: 1.0e-2, checkpointing: true}");
    assertThat(on).contains("checkpointing: true");
    List<String> idsOn = SweepPlan.of(SweepConfig.parse(on), registry).trials().stream().map(TrialSpec::id).toList();
    List<String> idsOff = SweepPlan.of(SweepConfig.parse(YAML), registry).trials().stream().map(TrialSpec::id).toList();
    assertThat(idsOn).hasSize(6).doesNotContainAnyElementsOf(idsOff);
    assertThatThrownBy(() -> SweepConfig.parse(on.replace("checkpointing: true", "checkpointing: 1")))
        .hasMessageContaining("checkpointing").hasMessageContaining("true or false");
  }

  @Test
  void badSweepsFailBeforeAnyTrialRuns() {
    assertThatThrownBy(() -> SweepPlan.of(SweepConfig.parse(YAML.replace("type: lora", "type: lorax")), registry))
        .hasMessageContaining("unknown variant 'lorax'");
    assertThatThrownBy(() -> SweepPlan.of(SweepConfig.parse(YAML.replace("rank: [1, 2]", "rank: 0")), registry))
        .hasMessageContaining("rank = 0");
    assertThatThrownBy(() -> SweepConfig.parse(YAML + "\nfoo: 1\n")).hasMessageContaining("unknown key 'foo'");
  }

  /**
   * {@code base_dtype}: a 16-bit base is part of a trial's identity (float32 ids are unchanged),
   * its trials run with the frozen weights in bf16 and say so in their records.
   */
  @Test
  void aBf16BaseIsPartOfTheTrialAndItsRecord(@TempDir Path tmp) throws Exception {
    List<String> auto = SweepPlan.of(SweepConfig.parse(YAML), registry).trials().stream().map(TrialSpec::id).toList();
    List<String> f32 = SweepPlan.of(SweepConfig.parse(YAML + "base_dtype: f32\n"), registry).trials().stream()
        .map(TrialSpec::id).toList();
    SweepConfig bf16 = SweepConfig.parse(YAML.replace("seeds: [1, 2]", "seeds: [1]") + "base_dtype: bf16\n");
    List<String> half = SweepPlan.of(bf16, registry).trials().stream().map(TrialSpec::id).toList();
    assertThat(f32).isEqualTo(auto);
    assertThat(half).doesNotContainAnyElementsOf(auto);
    assertThatThrownBy(() -> SweepConfig.parse(YAML + "base_dtype: fp8\n"))
        .hasMessageContaining("base_dtype").hasMessageContaining("bf16");
    SweepRunner.Outcome run = new SweepRunner(registry, quiet).run(bf16, tmp, 0, 1);
    assertThat(run.ran()).isEqualTo(3);
    try (Stream<Path> s = Files.list(tmp.resolve("trials"))) {
      for (Path f : s.toList()) {
        JsonNode r = new ObjectMapper().readTree(f.toFile());
        assertThat(r.path("provenance").path("base_dtype").asText()).as(f.toString()).isEqualTo("bf16");
      }
    }
  }

  @Test
  void aResumedSweepSkipsFinishedTrialsAndEndsWithTheSameResults(@TempDir Path tmp) throws Exception {
    SweepConfig cfg = SweepConfig.parse(YAML);
    Path once = tmp.resolve("once");
    SweepRunner.Outcome full = new SweepRunner(registry, quiet).run(cfg, once, 0, 1);
    assertThat(full.ran()).isEqualTo(6);

    // an interrupted run: two trials' files never written (a kill mid-trial leaves no file:
    // trial files are written atomically when the trial ends)
    Path resumed = tmp.resolve("resumed");
    new SweepRunner(registry, quiet).run(cfg, resumed, 0, 1);
    List<Path> files;
    try (Stream<Path> s = Files.list(resumed.resolve("trials"))) {
      files = s.sorted().toList();
    }
    String untouched = Files.readString(files.get(0));
    Files.delete(files.get(1));
    Files.delete(files.get(4));
    SweepRunner.Outcome again = new SweepRunner(registry, quiet).run(cfg, resumed, 0, 1);
    assertThat(again.skipped()).isEqualTo(4);
    assertThat(again.ran()).isEqualTo(2);
    assertThat(Files.readString(files.get(0))).isEqualTo(untouched); // finished trials not rerun

    Report.generate(once);
    Report.generate(resumed);
    ObjectMapper m = new ObjectMapper();
    JsonNode a = m.readTree(once.resolve("summary.json").toFile());
    JsonNode b = m.readTree(resumed.resolve("summary.json").toFile());
    // metrics (same seeds) are identical; timing and memory columns are measurements and differ
    assertThat(metrics(b)).isEqualTo(metrics(a));
  }

  @Test
  void aRerunAfterACrashClearsDebrisRetriesFailuresAndTruncatedFilesAndLosesNothing(@TempDir Path tmp)
      throws Exception {
    SweepConfig cfg = SweepConfig.parse(YAML);
    Path once = tmp.resolve("once");
    new SweepRunner(registry, quiet).run(cfg, once, 0, 1);
    Path crashed = tmp.resolve("crashed");
    new SweepRunner(registry, quiet).run(cfg, crashed, 0, 1);
    List<Path> files;
    try (Stream<Path> s = Files.list(crashed.resolve("trials"))) {
      files = s.sorted().toList();
    }
    // what a process killed while saving leaves: temporaries named by its (now dead) pid in the
    // trial and adapter folders, next to a trial whose record was never renamed into place
    Process gone = new ProcessBuilder("true").start();
    gone.waitFor();
    Path adapters = crashed.resolve("adapters");
    String unsaved = files.get(2).getFileName().toString().replace(".json", "");
    Files.delete(files.get(2));
    Files.createDirectories(adapters.resolve(unsaved));
    List<Path> debris = List.of(
        adapters.resolve(unsaved).resolve(".adapter_model.safetensors." + gone.pid() + ".4.tmp"),
        crashed.resolve("trials").resolve("." + unsaved + ".json." + gone.pid() + ".5.tmp"));
    for (Path d : debris) {
      Files.write(d, new byte[1000]);
    }
    // a damaged record (cut in half) and a failed one are run again
    byte[] whole = Files.readAllBytes(files.get(3));
    Files.write(files.get(3), java.util.Arrays.copyOf(whole, whole.length / 2));
    ObjectMapper m = new ObjectMapper();
    com.fasterxml.jackson.databind.node.ObjectNode failed =
        (com.fasterxml.jackson.databind.node.ObjectNode) m.readTree(files.get(4).toFile());
    failed.put("status", "failed");
    Files.writeString(files.get(4), failed.toString());
    String untouched = Files.readString(files.get(0));

    assertThat(new SweepRunner(registry, quiet, true, false).run(cfg, crashed, 0, 1))
        .as("--keep-failed keeps the failed record")
        .isEqualTo(new SweepRunner.Outcome(6, 4, 2, 0));
    for (Path d : debris) {
      assertThat(d).doesNotExist();
    }
    Files.writeString(files.get(4), failed.toString());
    assertThat(new SweepRunner(registry, quiet).run(cfg, crashed, 0, 1))
        .isEqualTo(new SweepRunner.Outcome(6, 5, 1, 0));
    assertThat(Files.readString(files.get(0))).isEqualTo(untouched);
    for (Path f : files) {
      assertThat(m.readTree(f.toFile()).path("status").asText()).isEqualTo("ok");
      String id = f.getFileName().toString().replace(".json", "");
      if (id.startsWith("lora")) {
        // LoRA trials leave PEFT adapter directories that load back
        Path adapter = adapters.resolve(id);
        assertThat(adapter.resolve("adapter_config.json")).exists();
        assertThat(dev.loraj.core.checkpoint.PeftAdapters.readConfig(adapter, registry).variant()).isEqualTo("lora");
      }
    }
    Report.generate(once);
    Report.generate(crashed);
    assertThat(metrics(m.readTree(crashed.resolve("summary.json").toFile())))
        .isEqualTo(metrics(m.readTree(once.resolve("summary.json").toFile())));
  }

  /**
   * Each trial's adapter folder: a PEFT directory for every variant PEFT has a form for (VeRA as
   * VERA, PiSSA converted to LoRA), the own format with the reason for the others.
   */
  @Test
  void everyVariantLeavesALoadableAdapterFolderPeftsWhereItHasOne(@TempDir Path tmp) throws Exception {
    String yaml = YAML.replace("seeds: [1, 2]", "seeds: [1]")
        .replace("baselines:\n  - {kind: head_only}\n", "")
        .replace("  - {type: lora, rank: [1, 2], alpha: 4}", "  - {type: vera, rank: 4}\n"
            + "  - {type: pissa, rank: 2, alpha: 4}\n  - {type: delta-lora, rank: 2, alpha: 4}");
    SweepConfig cfg = SweepConfig.parse(yaml);
    assertThat(new SweepRunner(registry, quiet).run(cfg, tmp, 0, 1).failed()).isZero();
    ObjectMapper m = new ObjectMapper();
    List<TrialSpec> trials = SweepPlan.of(cfg, registry).trials();
    assertThat(trials).hasSize(3);
    for (TrialSpec t : trials) {
      Path dir = tmp.resolve("adapters").resolve(t.id());
      JsonNode record = m.readTree(dir.resolve(PeftAdapters.VARIANT_FILE).toFile());
      assertThat(record.path("variant").asText()).isEqualTo(t.variant());
      if (t.variant().equals("delta-lora")) {
        assertThat(dir.resolve(PeftAdapters.CONFIG_FILE)).doesNotExist();
        assertThat(record.path("format").asText()).isEqualTo(PeftAdapters.FORMAT_OWN);
        assertThat(record.path("no_peft_form").asText()).contains("dense");
      } else {
        JsonNode peft = m.readTree(dir.resolve(PeftAdapters.CONFIG_FILE).toFile());
        assertThat(peft.path("peft_type").asText()).isEqualTo(t.variant().equals("vera") ? "VERA" : "LORA");
      }
    }
  }

  @Test
  void aDirectoryHoldsOneDefinition(@TempDir Path dir) throws Exception {
    new SweepRunner(registry, quiet).run(SweepConfig.parse(YAML), dir, 0, 1);
    SweepConfig otherLr = SweepConfig.parse(YAML.replace("learning_rate: 1.0e-2", "learning_rate: 2.0e-2"));
    SweepConfig otherTask = SweepConfig.parse(YAML.replace("test_examples: 200, seed: 0", "test_examples: 200, seed: 5"));
    assertThatThrownBy(() -> new SweepRunner(registry, quiet).run(otherLr, dir, 0, 1))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("changed: train.learning_rate)")
        .hasMessageContaining("--replace-definition");
    assertThatThrownBy(() -> new SweepRunner(registry, quiet).run(otherTask, dir, 0, 1))
        .hasMessageContaining("changed: task.seed)");
    // the same definition written differently (1.0e-2 as 0.01) is the same definition
    assertThat(new SweepRunner(registry, quiet).run(
        SweepConfig.parse(YAML.replace("learning_rate: 1.0e-2", "learning_rate: 0.01")), dir, 0, 1).skipped())
        .isEqualTo(6);
    // how the report reads the trials is no part of the definition: every trial is reused, and
    // the report takes its reference row from the new sweep.json
    assertThat(new SweepRunner(registry, quiet).run(
        SweepConfig.parse(YAML + "report: {reference: head_only}\n"), dir, 0, 1).skipped()).isEqualTo(6);
    assertThat(Report.generate(dir).reference()).isEqualTo("head_only");

    // a trial's id covers its task: nothing of the old definition is reused
    List<String> before = SweepPlan.of(SweepConfig.parse(YAML), registry).trials().stream().map(TrialSpec::id).toList();
    List<String> after = SweepPlan.of(otherTask, registry).trials().stream().map(TrialSpec::id).toList();
    assertThat(after).doesNotContainAnyElementsOf(before);
    SweepRunner.Outcome replaced = new SweepRunner(registry, quiet, false, true).run(otherTask, dir, 0, 1);
    assertThat(replaced.ran()).isEqualTo(6);
    try (Stream<Path> s = Files.list(dir.resolve("trials"))) {
      assertThat(s.count()).isEqualTo(12);
    }
    // the report holds the current definition's six trials only
    assertThat(Report.generate(dir).trialsTotal()).isEqualTo(6);
  }

  static String metrics(JsonNode summary) {
    StringBuilder sb = new StringBuilder();
    for (JsonNode row : summary.path("rows")) {
      sb.append(row.path("group").asText()).append(' ').append(row.path("metrics")).append('\n');
    }
    assertThat(sb.toString()).contains("accuracy");
    return sb.toString();
  }
}
