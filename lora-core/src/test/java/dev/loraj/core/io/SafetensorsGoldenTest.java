package dev.loraj.core.io;

import static dev.loraj.core.io.SafetensorsTestSupport.floatBits;
import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteOrder;
import java.nio.ShortBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Files written by the reference library (huggingface/safetensors 0.8.0 through numpy, F16
 * rounding by numpy 2.4.6, BF16 by ml_dtypes 0.6.0). Regenerate with
 * {@code lora-core/src/test/python/make_safetensors_golden.py}.
 */
class SafetensorsGoldenTest {
  private static final Path GOLDEN = golden();
  private static final String WEIRD = "weird \"name\"\t\u0001 \u00e9\u4e2d";

  @TempDir Path dir;

  private static Path golden() {
    try {
      return Paths.get(SafetensorsGoldenTest.class.getResource("/golden/safetensors_v1").toURI());
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  @Test
  void readsTheLibrarysFileExactly() throws Exception {
    try (SafetensorsFile f = SafetensorsFile.open(GOLDEN.resolve("mixed.safetensors"))) {
      assertThat(f.names()).containsExactlyInAnyOrder("model.layers.0.weight", "model.scalar",
          "model.empty", WEIRD, "f16.source", "f16.rounded", "f16.widened", "bf16.source",
          "bf16.rounded", "bf16.widened", "codes.u8", "codes.i8", "index.i64", "index.i32");
      assertThat(f.metadata()).containsExactly(Map.entry("format", "pt"));

      INDArray w = f.getFloat("model.layers.0.weight");
      assertThat(w.shape()).containsExactly(3, 4);
      float[] expected = new float[12];
      for (int i = 0; i < 12; i++) {
        expected[i] = ((float) i - 5.5f) / 3f; // numpy: (arange(12, float32) - 5.5) / 3
      }
      assertThat(w.reshape(12).toFloatVector()).containsExactly(expected);
      assertThat(f.getFloat("model.scalar").rank()).isZero();
      assertThat(f.getFloat("model.scalar").getFloat(0)).isEqualTo(3.25f);
      assertThat(f.getFloat("model.empty").shape()).containsExactly(0, 3);
      assertThat(f.getFloat(WEIRD).toFloatVector()).containsExactly(7f);

      for (String p : List.of("f16", "bf16")) {
        INDArray rounded = f.getFloat(p + ".rounded");
        INDArray widened = f.getFloat(p + ".widened");
        assertThat(rounded.shape()).containsExactly(p.equals("f16") ? new long[] {2, 8}
            : new long[] {3, 4});
        assertThat(floatBits(rounded)).as(p).containsExactly(floatBits(widened));
      }

      assertThat(f.getRaw("codes.u8").dataType()).isEqualTo(DataType.UINT8);
      assertThat(f.getRaw("codes.u8").reshape(6).toIntVector())
          .containsExactly(0, 1, 127, 128, 200, 255);
      assertThat(f.getRaw("codes.i8").toIntVector()).containsExactly(-128, -1, 0, 127);
      assertThat(f.getRaw("index.i64").toLongVector())
          .containsExactly(0, -1, 1L << 40, -(1L << 62));
      assertThat(f.getRaw("index.i32").shape()).containsExactly(2, 1);
      assertThat(f.getRaw("index.i32").reshape(2).toIntVector()).containsExactly(7, -9);
    }
  }

  @Test
  void javaRoundingMatchesNumpyAndMlDtypesBitForBit() throws Exception {
    try (SafetensorsFile f = SafetensorsFile.open(GOLDEN.resolve("mixed.safetensors"))) {
      for (String p : List.of("f16", "bf16")) {
        float[] source = f.getFloat(p + ".source").toFloatVector();
        ShortBuffer stored = f.bytes(p + ".rounded").order(ByteOrder.LITTLE_ENDIAN)
            .asShortBuffer();
        for (int i = 0; i < source.length; i++) {
          short java = p.equals("f16") ? HalfPrecision.floatToHalf(source[i])
              : HalfPrecision.floatToBfloat16(source[i]);
          assertThat(java).as("%s[%d] = %s", p, i, source[i]).isEqualTo(stored.get(i));
        }
      }
    }
  }

  /**
   * The Java writer, given the same tensors (the narrowed ones converted from their float32
   * sources by Java), produces the library's bytes. One metadata entry: with several, the
   * library's key order is that of a Rust hash map and varies between runs.
   */
  @Test
  void writerIsByteIdenticalToTheLibrary() throws Exception {
    Path golden = GOLDEN.resolve("mixed.safetensors");
    Map<String, TensorData> tensors = new LinkedHashMap<>();
    try (SafetensorsFile f = SafetensorsFile.open(golden)) {
      List<String> names = new ArrayList<>(f.names());
      Collections.reverse(names); // insertion order must not matter
      for (String name : names) {
        TensorInfo info = f.info(name);
        if (name.endsWith(".rounded")) {
          String prefix = name.substring(0, name.indexOf('.'));
          INDArray source = f.getFloat(prefix + ".source").reshape(info.shape());
          tensors.put(name, TensorData.of(source, info.dtype()));
        } else if (info.dtype().isFloatingPoint()) {
          tensors.put(name, TensorData.of(f.getFloat(name)));
        } else {
          tensors.put(name, TensorData.of(f.getRaw(name)));
        }
      }
    }
    byte[] expected = Files.readAllBytes(golden);
    assertThat(SafetensorsWriter.toBytes(tensors, Map.of("format", "pt"))).isEqualTo(expected);
    Path file = dir.resolve("mixed.safetensors");
    SafetensorsWriter.writeData(file, tensors, Map.of("format", "pt"));
    assertThat(Files.readAllBytes(file)).isEqualTo(expected);
  }

  @Test
  void noMetadataAndEmptyFilesAreByteIdentical() throws Exception {
    Path noMeta = GOLDEN.resolve("no_metadata.safetensors");
    try (SafetensorsFile f = SafetensorsFile.open(noMeta)) {
      assertThat(f.metadata()).isEmpty();
      assertThat(f.getFloat("w").toFloatMatrix()).isEqualTo(new float[][] {{1, 2}, {3, 4}});
      Path out = dir.resolve("no_metadata.safetensors");
      SafetensorsWriter.write(out, Map.of("w", f.getFloat("w")), null);
      assertThat(Files.readAllBytes(out)).isEqualTo(Files.readAllBytes(noMeta));
    }
    Path empty = GOLDEN.resolve("empty.safetensors");
    try (SafetensorsFile f = SafetensorsFile.open(empty)) {
      assertThat(f.names()).isEmpty();
    }
    Path out = dir.resolve("empty.safetensors");
    SafetensorsWriter.write(out, Map.of(), null);
    assertThat(Files.readAllBytes(out)).isEqualTo(Files.readAllBytes(empty));
  }
}
