package dev.loraj.core.io;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.loraj.core.fuzz.FuzzInvariant;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/**
 * Fuzz target for the sharded checkpoint index ({@code model.safetensors.index.json}) next to two
 * valid shards ({@code a.safetensors}: tensors x, y; {@code b.safetensors}: z): any index either
 * opens a checkpoint whose every listed tensor is readable from the shard that holds it, or
 * fails with a {@link SafetensorsFormatException}.
 */
class ShardedCheckpointFuzzTest {
  private static Path dir;

  @BeforeAll
  static void writeShards() throws IOException {
    dir = FuzzInvariant.scratchDirectory("sharded-fuzz");
    shard(dir.resolve("a.safetensors"), List.of(
        new TensorInfo("x", SafetensorsDtype.F32, new long[] {2}, 0, 8),
        new TensorInfo("y", SafetensorsDtype.F32, new long[] {1}, 8, 12)));
    shard(dir.resolve("b.safetensors"), List.of(new TensorInfo("z", SafetensorsDtype.F32, new long[] {1, 1}, 0, 4)));
  }

  private static void shard(Path file, List<TensorInfo> tensors) throws IOException {
    byte[] header = SafetensorsHeader.encode(tensors, null);
    long buffer = tensors.get(tensors.size() - 1).end();
    ByteBuffer b = ByteBuffer.allocate((int) (8 + header.length + buffer)).order(ByteOrder.LITTLE_ENDIAN);
    b.putLong(header.length).put(header);
    Files.write(file, b.array());
  }

  @AfterAll
  static void deleteDirectory() throws IOException {
    FuzzInvariant.deleteScratchDirectory(dir);
  }

  @FuzzTest
  void index(byte[] data) throws IOException {
    Files.write(dir.resolve("model.safetensors.index.json"), data);
    try (ShardedCheckpoint c = ShardedCheckpoint.open(dir)) {
      for (String name : c.names()) {
        if (c.bytes(name).remaining() != c.info(name).byteLength()) {
          throw new AssertionError("tensor " + name + " has the wrong byte count");
        }
      }
      for (Map.Entry<String, String> e : c.metadata().entrySet()) {
        if (e.getKey() == null || e.getValue() == null) {
          throw new AssertionError("null metadata entry");
        }
      }
    } catch (SafetensorsFormatException e) {
      FuzzInvariant.requireMessage(e);
    }
  }
}
