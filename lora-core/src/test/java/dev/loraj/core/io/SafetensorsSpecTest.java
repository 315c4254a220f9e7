package dev.loraj.core.io;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.factory.Nd4j;

/** A file assembled byte by byte from the format description, read and re-written. */
class SafetensorsSpecTest {
  @TempDir Path dir;

  /**
   * Header: F32 "b" [2] = {1.5, -2} at [0, 8), U8 "a" [3] = {1, 2, 255} at [8, 11), metadata
   * format=pt; the reference layout puts F32 before U8. The JSON has 138 bytes, padded with 6
   * spaces to 144.
   */
  private static byte[] handAssembled() {
    String json = "{\"__metadata__\":{\"format\":\"pt\"},"
        + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
        + "\"a\":{\"dtype\":\"U8\",\"shape\":[3],\"data_offsets\":[8,11]}}";
    assertThat(json.length()).isEqualTo(138);
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    out.writeBytes(new byte[] {(byte) 144, 0, 0, 0, 0, 0, 0, 0}); // u64 LE 144
    out.writeBytes(json.getBytes(StandardCharsets.US_ASCII));
    out.writeBytes("      ".getBytes(StandardCharsets.US_ASCII)); // 6 spaces
    out.writeBytes(new byte[] {0, 0, (byte) 0xc0, 0x3f}); // 1.5f = 0x3fc00000, little-endian
    out.writeBytes(new byte[] {0, 0, 0, (byte) 0xc0}); // -2.0f = 0xc0000000
    out.writeBytes(new byte[] {1, 2, (byte) 255});
    byte[] bytes = out.toByteArray();
    assertThat(bytes).hasSize(8 + 144 + 11);
    return bytes;
  }

  @Test
  void readsTheHandAssembledFile() throws Exception {
    Path file = dir.resolve("hand.safetensors");
    Files.write(file, handAssembled());
    try (SafetensorsFile f = SafetensorsFile.open(file)) {
      assertThat(f.names()).containsExactly("b", "a");
      assertThat(f.metadata()).containsExactly(Map.entry("format", "pt"));
      assertThat(f.info("b"))
          .isEqualTo(new TensorInfo("b", SafetensorsDtype.F32, new long[] {2}, 0, 8));
      assertThat(f.info("a"))
          .isEqualTo(new TensorInfo("a", SafetensorsDtype.U8, new long[] {3}, 8, 11));
      assertThat(f.getFloat("b").toFloatVector()).containsExactly(1.5f, -2f);
      assertThat(f.getRaw("a").toIntVector()).containsExactly(1, 2, 255);
      assertThat(f.bytes("b").getFloat(4)).isEqualTo(-2f);
    }
  }

  @Test
  void writerProducesTheSameBytes() throws Exception {
    Map<String, TensorData> data = new LinkedHashMap<>();
    data.put("a", new TensorData(SafetensorsDtype.U8, new long[] {3}, new byte[] {1, 2, -1}));
    data.put("b", TensorData.of(Nd4j.createFromArray(1.5f, -2f)));
    assertThat(SafetensorsWriter.toBytes(data, Map.of("format", "pt")))
        .containsExactly(handAssembled());

    Path file = dir.resolve("written.safetensors");
    SafetensorsWriter.write(file, Map.of("a",
        Nd4j.createFromArray(new byte[] {1, 2, -1}).castTo(DataType.UINT8),
        "b", Nd4j.createFromArray(1.5, -2.0)), Map.of("format", "pt"));
    assertThat(Files.readAllBytes(file)).containsExactly(handAssembled());
  }

  @Test
  void emptyFileIsEightByteLengthAndPaddedBraces() {
    byte[] bytes = SafetensorsWriter.toBytes(Map.of(), null);
    assertThat(bytes).containsExactly(8, 0, 0, 0, 0, 0, 0, 0, '{', '}', ' ', ' ', ' ', ' ', ' ',
        ' ');
  }

  @Test
  void namesAreEscapedLikeSerdeJson() {
    byte[] bytes = SafetensorsWriter.toBytes(
        Map.of("q\"b\\t\tn\nc\u001fé", new TensorData(SafetensorsDtype.U8, new long[] {}, new byte[]
            {9})), null);
    String header = new String(bytes, 8, bytes.length - 9, StandardCharsets.UTF_8).trim();
    assertThat(header).isEqualTo(
        "{\"q\\\"b\\\\t\\tn\\nc\\u001fé\":{\"dtype\":\"U8\",\"shape\":[],\"data_offsets\":[0,1]}}");
  }
}
