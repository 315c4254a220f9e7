package dev.loraj.bench.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.loraj.core.golden.PeftGolden;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/** {@code lora logits}, {@code lora combine} and {@code lora params} against the golden files and the LoRA paper. */
class InteropCommandsTest {

  static String run(String... args) {
    PrintStream original = System.out;
    ByteArrayOutputStream buf = new ByteArrayOutputStream();
    System.setOut(new PrintStream(buf, true, StandardCharsets.UTF_8));
    try {
      assertThat(LoraCli.commandLine().execute(args)).as(String.join(" ", args)).isZero();
    } finally {
      System.setOut(original);
    }
    return buf.toString(StandardCharsets.UTF_8);
  }

  /** A bfloat16 checkpoint held in bf16 ({@code --base-dtype auto}) gives PyTorch's float32 logits. */
  @Test
  void logitsOfABf16BaseHeldIn16BitsMatchPyTorch() throws Exception {
    Path root = dev.loraj.core.golden.Bf16GoldenTest.root();
    String out = run("logits", "--model", root.resolve("llama-bf16-tiny").toString(),
        "--base-dtype", "auto", "--tokens", "3,14,15,9,26,5,35,297,128");
    double[][] rows = new ObjectMapper().convertValue(new ObjectMapper().readTree(out).get("logits"), double[][].class);
    INDArray expected;
    try (dev.loraj.core.io.SafetensorsFile f = dev.loraj.core.io.SafetensorsFile.open(root.resolve("expected.safetensors"))) {
      expected = f.getFloat("llama-bf16/logits");
    }
    assertThat(PeftGolden.maxAbsDiff(Nd4j.createFromArray(rows).castTo(expected.dataType()), expected)).isLessThan(1e-4);
  }

  @Test
  void logitsOfAPeftAdapterMatchPyTorch() throws Exception {
    Path root = PeftGolden.root();
    String out = run("logits", "--model", root.resolve("gpt2-tiny").toString(),
        "--adapter", root.resolve("adapters/gpt2-lora").toString(), "--merge",
        "--tokens", "3,14,15,9,26,5,35");
    JsonNode logits = new ObjectMapper().readTree(out).get("logits");
    assertThat(logits.size()).isEqualTo(7);
    double[][] rows = new ObjectMapper().convertValue(logits, double[][].class);
    double diff = PeftGolden.maxAbsDiff(Nd4j.createFromArray(rows), PeftGolden.expected("gpt2-lora/merged/logits"));
    assertThat(diff).isLessThanOrEqualTo(1e-4);
  }

  @Test
  void combineWritesAPeftDirectoryThatLogitsLoadsWithPeftsResult(@org.junit.jupiter.api.io.TempDir Path tmp)
      throws Exception {
    Path golden = PeftGolden.directory("/golden/combination_v1");
    Path model = PeftGolden.root().resolve("llama-tiny");
    Path out = tmp.resolve("ties");
    assertThat(run("combine", "--model", model.toString(),
        "--adapter", golden.resolve("adapters/x") + ":0.7", "--adapter", golden.resolve("adapters/y") + ":-0.4",
        "--method", "ties", "--density", "0.5", "--out", out.toString())).contains("ties of 2 adapters");
    assertThat(out.resolve("adapter_config.json")).isRegularFile();
    String logits = run("logits", "--model", model.toString(), "--adapter", out.toString(),
        "--tokens", "3,14,15,9,26,5,35");
    double[][] rows = new ObjectMapper().convertValue(new ObjectMapper().readTree(logits).get("logits"), double[][].class);
    double diff = PeftGolden.maxAbsDiff(Nd4j.createFromArray(rows),
        PeftGolden.expected(golden, "combination/ties/logits"));
    assertThat(diff).isLessThanOrEqualTo(1e-5);
    assertThat(LoraCli.commandLine().execute("combine", "--model", model.toString(), "--adapter",
        golden.resolve("adapters/x").toString(), "--method", "ties", "--out", tmp.resolve("bad").toString()))
        .as("ties without --density").isEqualTo(2);
  }

  @Test
  void paramsCountsTheLoraPaperFigures() throws Exception {
    JsonNode r = new ObjectMapper().readTree(
        run("params", "--model", "roberta-base", "--targets", "query,value", "--rank", "8", "--json"));
    assertThat(r.get("trainable_parameters").asLong()).isEqualTo(294_912); // LoRA paper Table 2: 0.3M
    assertThat(r.get("adapted_modules").asInt()).isEqualTo(24);
    assertThat(run("params", "--model", "gpt3-175b", "--targets", "query,value", "--rank", "8"))
        .contains("37,748,736"); // Table 4: 37.7M
  }
}
