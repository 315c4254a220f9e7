package dev.loraj.core.io;

import static dev.loraj.core.io.SafetensorsTestSupport.floatBits;
import static dev.loraj.core.io.SafetensorsTestSupport.randomFloats;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assumptions.assumeThat;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.ndarray.INDArray;

/** Whole-buffer vs per-tensor mapping (the > 2 GiB path, forced by a low limit). */
class SafetensorsMappingTest {
  @TempDir Path dir;

  private static long openDescriptors() throws IOException {
    try (Stream<Path> s = Files.list(Paths.get("/proc/self/fd"))) {
      return s.count();
    }
  }

  private Path sample() throws IOException {
    Path file = dir.resolve("m.safetensors");
    SafetensorsWriter.write(file, Map.of("a", randomFloats(5, 3, 4), "b", randomFloats(6, 7),
        "empty", randomFloats(7, 0, 2)), null);
    return file;
  }

  @Test
  void perTensorMappingReadsTheSameValues() throws Exception {
    Path file = sample();
    try (SafetensorsFile whole = SafetensorsFile.open(file);
        SafetensorsFile perTensor = SafetensorsFile.open(file, 0)) {
      assertThat(whole.mapsPerTensor()).isFalse();
      assertThat(perTensor.mapsPerTensor()).isTrue();
      for (String name : whole.names()) {
        INDArray x = whole.getFloat(name);
        INDArray y = perTensor.getFloat(name);
        assertThat(y.shape()).isEqualTo(x.shape());
        assertThat(floatBits(y)).containsExactly(floatBits(x));
      }
    }
  }

  @Test
  void noFileDescriptorIsHeldOrLeaked() throws Exception {
    assumeThat(Files.isDirectory(Paths.get("/proc/self/fd"))).isTrue();
    Path file = sample();
    long before = openDescriptors();
    for (int i = 0; i < 50; i++) {
      SafetensorsFile f = SafetensorsFile.open(file);
      assertThat(f.holdsChannel()).isFalse(); // whole buffer mapped, channel closed at open
      f.getFloat("a");
      f.close();
    }
    SafetensorsFile perTensor = SafetensorsFile.open(file, 0);
    assertThat(perTensor.holdsChannel()).isTrue();
    perTensor.getFloat("b");
    perTensor.close();
    assertThat(perTensor.holdsChannel()).isFalse();
    assertThat(openDescriptors()).isLessThanOrEqualTo(before);
    assertThatThrownBy(() -> perTensor.bytes("a"))
        .isInstanceOf(IllegalStateException.class).hasMessageContaining("closed");
  }

  /** A sparse file whose buffer exceeds 2 GiB: the tail tensor sits beyond int offsets. */
  @Test
  void bufferOver2GiBIsMappedPerTensor() throws Exception {
    assumeThat(Files.getFileStore(dir).getUsableSpace()).isGreaterThan(8L << 30);
    long big = (1L << 31) + 64; // U8 bytes, just over 2 GiB
    String json = "{\"big\":{\"dtype\":\"U8\",\"shape\":[" + big + "],\"data_offsets\":[0,"
        + big + "]},\"tail\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[" + big + ","
        + (big + 8) + "]}}";
    byte[] header = json.getBytes(StandardCharsets.US_ASCII);
    Path file = dir.resolve("sparse.safetensors");
    try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw")) {
      raf.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(header.length)
          .array());
      raf.write(header);
      long tail = 8 + header.length + big;
      raf.setLength(tail + 8); // sparse: the 2 GiB of zeros take no disk space
      raf.seek(tail);
      raf.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putFloat(1.5f)
          .putFloat(-3f).array());
    }
    try (SafetensorsFile f = SafetensorsFile.open(file)) {
      assertThat(f.mapsPerTensor()).isTrue();
      assertThat(f.holdsChannel()).isTrue();
      assertThat(f.info("tail").begin()).isGreaterThan(Integer.MAX_VALUE);
      assertThat(f.getFloat("tail").toFloatVector()).containsExactly(1.5f, -3f);
      assertThatThrownBy(() -> f.bytes("big"))
          .isInstanceOf(UnsupportedOperationException.class)
          .hasMessageContaining("'big'").hasMessageContaining("2 GiB");
    }
  }
}
