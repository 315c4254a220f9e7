package dev.loraj.bench.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** {@code lora quant-error} on small normal matrices and on the embedded MiniLM. */
class QuantErrorCommandTest {

  static Map<String, JsonNode> byFormat(JsonNode source) {
    Map<String, JsonNode> m = new HashMap<>();
    source.get("formats").forEach(f -> m.put(f.get("format").asText(), f));
    return m;
  }

  @Test
  void normalWeightsOrderTheFormatsAndCountTheBits() throws Exception {
    JsonNode r = new ObjectMapper().readTree(InteropCommandsTest.run(
        "quant-error", "--matrices", "2", "--rows", "64", "--cols", "128", "--seed", "7", "--json"));
    assertThat(r.get("sources")).hasSize(1);
    JsonNode src = r.get("sources").get(0);
    assertThat(src.get("parameters").asLong()).isEqualTo(2 * 64 * 128);
    Map<String, JsonNode> f = byFormat(src);
    assertThat(f).containsOnlyKeys("nf4", "fp4", "int4", "int8");
    // 4-bit codes + one fp32 absmax per 64 elements: 4 + 32/64; 8-bit: 8 + 32/64
    assertThat(f.get("nf4").get("bits_per_parameter").asDouble()).isEqualTo(4.5);
    assertThat(f.get("int8").get("bits_per_parameter").asDouble()).isEqualTo(8.5);
    double nf4 = f.get("nf4").get("relative_frobenius").asDouble();
    assertThat(f.get("int8").get("relative_frobenius").asDouble()).isLessThan(nf4);
    assertThat(f.get("int4").get("relative_frobenius").asDouble()).isGreaterThan(nf4);
    assertThat(f.get("fp4").get("relative_frobenius").asDouble()).isGreaterThan(nf4);
    // N(0, 1) weights: ||W||_F^2 / n ~= 1, so the relative error is about sqrt(MSE)
    assertThat(nf4).isCloseTo(Math.sqrt(f.get("nf4").get("mse").asDouble()), within(0.1 * nf4));
    assertThat(nf4).isBetween(0.05, 0.15);
  }

  @Test
  void doubleQuantizationLowersTheBits() throws Exception {
    JsonNode r = new ObjectMapper().readTree(InteropCommandsTest.run(
        "quant-error", "--format", "nf4", "--double-quant", "--matrices", "1", "--rows", "64",
        "--cols", "128", "--json"));
    JsonNode nf4 = r.get("sources").get(0).get("formats").get(0);
    // 8192 elements: 4096 code bytes + 128 absmax codes + one fp32 scale + fp32 offset
    assertThat(nf4.get("bits_per_parameter").asDouble()).isEqualTo(8.0 * (4096 + 128 + 4 + 4) / 8192);
    assertThat(r.get("double_quant").asBoolean()).isTrue();
  }

  @Test
  void miniLmAggregatesItsThirtySixEncoderMatrices() throws Exception {
    String text = InteropCommandsTest.run("quant-error", "--format", "nf4", "--matrices", "0",
        "--model", "minilm");
    assertThat(text).contains("minilm: 36 matrices, 10,616,832 parameters").contains("nf4");
  }

  @Test
  void unknownFormatIsRefusedByName() {
    StringWriter err = new StringWriter();
    var cl = LoraCli.commandLine();
    cl.setErr(new PrintWriter(err));
    assertThat(cl.execute("quant-error", "--format", "nf3", "--matrices", "1", "--rows", "4", "--cols", "4"))
        .isEqualTo(2);
    assertThat(err.toString()).contains("nf3").contains("accepted nf4, fp4, int4, int8");
  }
}
