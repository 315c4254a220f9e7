package dev.loraj.core.io;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.loraj.core.fuzz.FuzzInvariant;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/**
 * Fuzz targets for the safetensors reader: any bytes either open as a valid file whose every
 * tensor can be read, or fail with a {@link SafetensorsFormatException}. Without {@code
 * JAZZER_FUZZ} these replay the seed corpus under {@code SafetensorsFuzzTestInputs/}; {@code
 * scripts/fuzz.sh} runs them in fuzzing mode.
 */
class SafetensorsFuzzTest {
  private static Path dir;

  @BeforeAll
  static void createDirectory() throws IOException {
    dir = FuzzInvariant.scratchDirectory("safetensors-fuzz");
  }

  @AfterAll
  static void deleteDirectory() throws IOException {
    FuzzInvariant.deleteScratchDirectory(dir);
  }

  /** The header alone: byte 0 is the buffer length the header must tile, the rest the JSON. */
  @FuzzTest
  void header(byte[] data) {
    long bufferLength = data.length == 0 ? 0 : data[0] & 0xFF;
    byte[] json = data.length == 0 ? data : Arrays.copyOfRange(data, 1, data.length);
    try {
      SafetensorsHeader h = SafetensorsHeader.parse(Path.of("fuzz.safetensors"), json, bufferLength);
      checkTiling(h.tensors.values(), bufferLength);
      // a valid header re-encodes and parses to the same tensors
      byte[] again = SafetensorsHeader.encode(List.copyOf(h.tensors.values()), h.metadata);
      SafetensorsHeader round = SafetensorsHeader.parse(Path.of("again"), again, bufferLength);
      if (!round.tensors.keySet().equals(h.tensors.keySet()) || !round.metadata.equals(h.metadata)) {
        throw new AssertionError("re-encoded header differs");
      }
    } catch (SafetensorsFormatException e) {
      FuzzInvariant.requireMessage(e);
    }
  }

  /** A whole file: opened, every tensor's bytes and the metadata read. */
  @FuzzTest
  void file(byte[] data) throws IOException {
    Path file = dir.resolve("fuzz.safetensors");
    Files.write(file, data);
    try (SafetensorsFile f = SafetensorsFile.open(file)) {
      long buffer = data.length - 8 - ByteBuffer.wrap(data, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
      checkTiling(f.names().stream().map(f::info).toList(), buffer);
      for (String name : f.names()) {
        if (f.bytes(name).remaining() != f.info(name).byteLength()) {
          throw new AssertionError("tensor " + name + " has the wrong byte count");
        }
      }
      f.metadata().forEach((k, v) -> {
        if (k == null || v == null) {
          throw new AssertionError("null metadata entry");
        }
      });
    } catch (SafetensorsFormatException e) {
      FuzzInvariant.requireMessage(e);
    }
  }

  private static void checkTiling(java.util.Collection<TensorInfo> tensors, long bufferLength) {
    long end = 0;
    for (TensorInfo t : tensors) {
      if (t.begin() != end || t.end() < t.begin()) {
        throw new AssertionError("tensors do not tile the buffer: " + t);
      }
      end = t.end();
    }
    if (end != bufferLength) {
      throw new AssertionError("tensors end at " + end + ", buffer has " + bufferLength);
    }
  }
}
