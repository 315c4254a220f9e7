package dev.loraj.core.golden;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.loraj.core.adapter.AdapterRegistry;
import dev.loraj.core.engine.MemoryLedger;
import dev.loraj.core.io.SafetensorsFile;
import dev.loraj.core.model.BaseDtype;
import dev.loraj.core.model.BaseModel;
import dev.loraj.core.model.HfModels;
import dev.loraj.core.model.LinearSite;
import dev.loraj.core.model.PeftModel;
import dev.loraj.core.quant.QuantFormat;
import dev.loraj.core.quant.QuantizedWeight;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * A bfloat16 checkpoint loaded with {@link BaseDtype#AUTO} (golden bf16_v1, made by
 * {@code scripts/golden/make_bf16_golden.py}): its linear weights stay bfloat16, 2 bytes a
 * parameter in the memory ledger, and the logits match transformers computing in float32 on the
 * same bfloat16 values within 1e-4 absolute (float32 rounding of a different summation order).
 */
public class Bf16GoldenTest {
  private static final double TOLERANCE = 1e-4;

  /** The golden directory as a file system path (copied out of the test jar when it is packed). */
  public static Path root() throws Exception {
    java.net.URL url = Bf16GoldenTest.class.getResource("/golden/bf16_v1/cases.json");
    if (url.getProtocol().equals("file")) {
      return Path.of(url.toURI()).getParent();
    }
    Path dir = java.nio.file.Files.createTempDirectory("bf16_v1");
    for (String n : new String[] {"cases.json", "expected.safetensors", "llama-bf16-tiny/config.json",
        "llama-bf16-tiny/model.safetensors"}) {
      Path target = dir.resolve(n);
      java.nio.file.Files.createDirectories(target.getParent());
      try (java.io.InputStream in = Bf16GoldenTest.class.getResourceAsStream("/golden/bf16_v1/" + n)) {
        java.nio.file.Files.copy(in, target);
      }
    }
    return dir;
  }

  @Test
  void bf16BaseMatchesTransformersInFloat32() throws Exception {
    Path root = root();
    JsonNode model = new ObjectMapper().readTree(root.resolve("cases.json").toFile()).path("model");
    BaseModel base = HfModels.load(root.resolve(model.path("dir").asText()), BaseDtype.AUTO);
    long linearParams = 0;
    for (LinearSite s : base.linearSites()) {
      QuantizedWeight q = base.quantizedWeights().get(s.weightName());
      assertThat(q).as(s.weightName()).isNotNull();
      assertThat(q.format()).isEqualTo(QuantFormat.BF16);
      assertThat(base.weights()).doesNotContainKey(s.weightName());
      linearParams += (long) s.in() * s.out();
    }
    for (LinearSite t : base.embeddingSites()) { // the token-embedding table: 16 bits, as stored
      QuantizedWeight q = base.quantizedWeights().get(t.weightName());
      assertThat(q).as(t.weightName()).isNotNull();
      assertThat(new long[] {q.rows(), q.cols()}).isEqualTo(t.weightShape());
      linearParams += (long) t.in() * t.out();
    }
    PeftModel pm = new PeftModel(base, AdapterRegistry.discover());
    MemoryLedger ledger = new MemoryLedger();
    pm.addTo(ledger);
    long dense = base.weights().values().stream().mapToLong(a -> 4 * a.length()).sum();
    assertThat(ledger.bytes(MemoryLedger.Category.FROZEN)).isEqualTo(2 * linearParams + dense);
    assertThat(ledger.bytes(MemoryLedger.Category.QUANTIZED)).isZero();

    JsonNode ids = model.path("inputs").path("input_ids");
    long[][] rows = new long[ids.size()][];
    for (int i = 0; i < ids.size(); i++) {
      rows[i] = new long[ids.get(i).size()];
      for (int j = 0; j < rows[i].length; j++) {
        rows[i][j] = ids.get(i).get(j).asLong();
      }
    }
    INDArray logits = pm.output(Map.of("input_ids", Nd4j.createFromArray(rows)));
    INDArray expected;
    try (SafetensorsFile f = SafetensorsFile.open(root.resolve("expected.safetensors"))) {
      expected = f.getFloat(model.path("logits_key").asText());
    }
    double diff = PeftGolden.maxAbsDiff(logits, expected);
    System.out.printf("golden bf16 base (auto): max |diff| = %.3e%n", diff);
    assertThat(diff).isLessThanOrEqualTo(TOLERANCE);

    // the same checkpoint widened on load gives the same logits: only where the upcast happens differs
    PeftModel f32 = new PeftModel(HfModels.load(root.resolve(model.path("dir").asText())),
        AdapterRegistry.discover());
    INDArray wide = f32.output(Map.of("input_ids", Nd4j.createFromArray(rows)));
    assertThat(PeftGolden.maxAbsDiff(wide, logits)).isLessThanOrEqualTo(1e-5);
  }
}
