package dev.loraj.bench.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.PrintWriter;
import java.io.StringWriter;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import picocli.CommandLine;

/** {@code lora bench step --json} on a tiny batch: runs for every arch and mode, prints the keys. */
class BenchStepCommandTest {

  @ParameterizedTest
  @CsvSource({"bert,lora", "bert,full", "bert,forward", "llama,lora", "llama,full", "llama,forward"})
  void printsTheStepTimesAsJson(String arch, String mode) throws Exception {
    CommandLine cl = LoraCli.commandLine();
    StringWriter out = new StringWriter();
    cl.setOut(new PrintWriter(out));
    int rc = cl.execute("bench", "step", "--arch", arch, "--mode", mode, "--batch", "2", "--seq", "8",
        "--rank", "4", "--steps", "2", "--warmup", "1", "--threads", "1", "--json");
    assertThat(rc).isZero();
    JsonNode j = new ObjectMapper().readTree(out.toString());
    assertThat(j.fieldNames()).toIterable().contains("step_ms_median", "step_ms", "arch", "mode",
        "batch", "seq", "rank", "threads");
    assertThat(j.get("arch").asText()).isEqualTo(arch);
    assertThat(j.get("mode").asText()).isEqualTo(mode);
    assertThat(j.get("batch").asInt()).isEqualTo(2);
    assertThat(j.get("seq").asInt()).isEqualTo(8);
    assertThat(j.get("rank").asInt()).isEqualTo(4);
    assertThat(j.get("threads").asInt()).isEqualTo(1);
    assertThat(j.get("step_ms")).hasSize(2);
    assertThat(j.get("step_ms_median").asDouble()).isPositive();
    long trainable = j.get("trainable_params").asLong();
    switch (mode) {
      // r (in + out) per q/v site; BERT's classifier (384 x 2 + 2) is trained with the adapter
      case "lora" -> assertThat(trainable).isEqualTo(arch.equals("bert")
          ? 6 * 2 * 4 * (384 + 384) + 770 : 4 * 2 * 4 * (512 + 512));
      case "full" -> assertThat(trainable).isGreaterThan(20_000_000);
      default -> assertThat(trainable).isZero();
    }
  }

  /** Any registered variant on any targets: DoRA adds one magnitude per output unit. */
  @org.junit.jupiter.api.Test
  void timesAnyVariantOnGivenTargets() throws Exception {
    CommandLine cl = LoraCli.commandLine();
    StringWriter out = new StringWriter();
    cl.setOut(new PrintWriter(out));
    int rc = cl.execute("bench", "step", "--arch", "llama", "--variant", "dora", "--targets", "q_proj,k_proj,v_proj",
        "--batch", "2", "--seq", "8", "--rank", "4", "--steps", "1", "--warmup", "2", "--threads", "2", "--json");
    assertThat(rc).isZero();
    JsonNode j = new ObjectMapper().readTree(out.toString());
    assertThat(j.get("variant").asText()).isEqualTo("dora");
    assertThat(j.get("targets").toString()).isEqualTo("[\"q_proj\",\"k_proj\",\"v_proj\"]");
    assertThat(j.get("trainable_params").asLong()).isEqualTo(4 * 3 * (4 * (512 + 512) + 512));
    assertThat(j.get("blas_threads").asInt()).isEqualTo(2);
    assertThat(j.has("not_replayed")).as(j.toString()).isFalse();
    StringWriter err = new StringWriter();
    cl.setErr(new PrintWriter(err));
    assertThat(cl.execute("bench", "step", "--arch", "bert", "--mode", "full", "--variant", "dora")).isEqualTo(2);
    assertThat(err.toString()).contains("variant = 'dora'", "mode lora");
  }

  /** Both engines run in one JVM; each prints its line and the ratio of the medians follows. */
  @org.junit.jupiter.api.Test
  void alternatesEnginesAndPrintsTheirRatio() {
    CommandLine cl = LoraCli.commandLine();
    StringWriter out = new StringWriter();
    cl.setOut(new PrintWriter(out));
    int rc = cl.execute("bench", "step", "--arch", "bert", "--mode", "lora", "--batch", "2", "--seq", "8",
        "--rank", "4", "--steps", "1", "--warmup", "1", "--threads", "1", "--engine", "optimized,portable");
    assertThat(rc).isZero();
    assertThat(out.toString()).contains("[backend CPU, engine optimized", "[backend CPU, engine portable",
        "engine optimized: median", "engine portable: median", "ratio portable / optimized: ");
  }

  /** {@code --base-dtype bf16}: the frozen weights are held in bf16, the trained ones are not. */
  @org.junit.jupiter.api.Test
  void holdsTheFrozenWeightsInBf16() throws Exception {
    CommandLine cl = LoraCli.commandLine();
    StringWriter out = new StringWriter();
    cl.setOut(new PrintWriter(out));
    int rc = cl.execute("bench", "step", "--arch", "llama", "--mode", "lora", "--batch", "2", "--seq", "8",
        "--rank", "4", "--steps", "1", "--warmup", "1", "--threads", "1", "--base-dtype", "bf16", "--json");
    assertThat(rc).isZero();
    JsonNode j = new ObjectMapper().readTree(out.toString());
    assertThat(j.get("base_dtype").asText()).isEqualTo("bf16");
    assertThat(j.get("trainable_params").asLong()).isEqualTo(4 * 2 * 4 * (512 + 512));
    StringWriter err = new StringWriter();
    cl.setErr(new PrintWriter(err));
    assertThat(cl.execute("bench", "step", "--arch", "llama", "--mode", "lora", "--base-dtype", "fp8")).isEqualTo(2);
    assertThat(err.toString()).contains("--base-dtype", "accepted");
  }

  @ParameterizedTest
  @CsvSource({"gpt2,lora", "bert,train"})
  void rejectsUnknownArchOrMode(String arch, String mode) {
    CommandLine cl = LoraCli.commandLine();
    StringWriter err = new StringWriter();
    cl.setErr(new PrintWriter(err));
    assertThat(cl.execute("bench", "step", "--arch", arch, "--mode", mode)).isEqualTo(2);
    assertThat(err.toString()).contains("accepted");
  }
}
