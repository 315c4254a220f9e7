package dev.loraj.core.io;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.factory.Nd4j;

class ShardedCheckpointTest {
  @TempDir Path dir;

  @BeforeEach
  void writeShards() throws IOException {
    SafetensorsWriter.write(dir.resolve("model-00001-of-00002.safetensors"),
        Map.of("a.weight", Nd4j.createFromArray(1f, 2f), "b.weight", Nd4j.scalar(3f)),
        Map.of("format", "pt"));
    SafetensorsWriter.write(dir.resolve("model-00002-of-00002.safetensors"),
        Map.of("c.weight", Nd4j.createFromArray(new float[][] {{4, 5}})),
        Map.of("format", "pt"));
  }

  private void index(String weightMap) throws IOException {
    AtomicFiles.writeString(dir.resolve("model.safetensors.index.json"),
        "{\"metadata\": {\"total_size\": 16, \"note\": \"x\"}, \"weight_map\": {" + weightMap
            + "}}");
  }

  private static final String GOOD =
      "\"a.weight\": \"model-00001-of-00002.safetensors\","
          + "\"b.weight\": \"model-00001-of-00002.safetensors\","
          + "\"c.weight\": \"model-00002-of-00002.safetensors\"";

  @Test
  void unionOfShards() throws Exception {
    index(GOOD);
    try (ShardedCheckpoint ckpt = ShardedCheckpoint.open(dir)) {
      assertThat(ckpt.names()).containsExactly("a.weight", "b.weight", "c.weight");
      assertThat(ckpt.shards()).hasSize(2);
      assertThat(ckpt.metadata()).containsEntry("total_size", "16").containsEntry("note", "x");
      assertThat(ckpt.getFloat("a.weight").toFloatVector()).containsExactly(1f, 2f);
      assertThat(ckpt.getFloat("b.weight").getFloat(0)).isEqualTo(3f);
      assertThat(ckpt.getFloat("c.weight").toFloatMatrix()).isEqualTo(new float[][] {{4, 5}});
      assertThat(ckpt.info("c.weight").shape()).containsExactly(1, 2);
      assertThat(ckpt.bytes("a.weight").remaining()).isEqualTo(8);
      assertThatThrownBy(() -> ckpt.info("d.weight"))
          .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("'d.weight'");
    }
  }

  @Test
  void singleFileWins() throws Exception {
    index(GOOD);
    SafetensorsWriter.write(dir.resolve("model.safetensors"),
        Map.of("only", Nd4j.createFromArray(9f)), Map.of("format", "pt"));
    try (ShardedCheckpoint ckpt = ShardedCheckpoint.open(dir)) {
      assertThat(ckpt.names()).containsExactly("only");
      assertThat(ckpt.metadata()).containsExactly(Map.entry("format", "pt"));
      assertThat(ckpt.getFloat("only").toFloatVector()).containsExactly(9f);
    }
  }

  @Test
  void missingShard() throws Exception {
    index(GOOD + ", \"d.weight\": \"model-00003-of-00003.safetensors\"");
    assertThatThrownBy(() -> ShardedCheckpoint.open(dir))
        .isInstanceOf(SafetensorsFormatException.class)
        .hasMessageContaining("model.safetensors.index.json")
        .hasMessageContaining("shard 'model-00003-of-00003.safetensors'")
        .hasMessageContaining("does not exist");
  }

  @Test
  void nameMappedToAShardWithoutIt() throws Exception {
    index(GOOD.replace("\"c.weight\": \"model-00002", "\"c.weight\": \"model-00001")
        .replace("\"a.weight\"", "\"a.weight\"") + ", \"x\": \"model-00002-of-00002.safetensors\"");
    assertThatThrownBy(() -> ShardedCheckpoint.open(dir))
        .isInstanceOf(SafetensorsFormatException.class)
        .hasMessageContaining("weight_map maps 'c.weight' to shard"
            + " 'model-00001-of-00002.safetensors', which has no such tensor");
  }

  @Test
  void tensorTheIndexDoesNotList() throws Exception {
    index("\"a.weight\": \"model-00001-of-00002.safetensors\","
        + "\"c.weight\": \"model-00002-of-00002.safetensors\"");
    assertThatThrownBy(() -> ShardedCheckpoint.open(dir))
        .isInstanceOf(SafetensorsFormatException.class)
        .hasMessageContaining("holds tensor 'b.weight', which weight_map does not list");
  }

  @Test
  void shardOutsideTheDirectory() throws Exception {
    index("\"a.weight\": \"../model-00001-of-00002.safetensors\"");
    assertThatThrownBy(() -> ShardedCheckpoint.open(dir))
        .isInstanceOf(SafetensorsFormatException.class)
        .hasMessageContaining("expected the file name of a shard in the same directory");
  }

  @Test
  void badIndexJson() throws Exception {
    AtomicFiles.writeString(dir.resolve("model.safetensors.index.json"), "{\"metadata\": {}}");
    assertThatThrownBy(() -> ShardedCheckpoint.open(dir))
        .isInstanceOf(SafetensorsFormatException.class)
        .hasMessageContaining("\"weight_map\" is missing");
    AtomicFiles.writeString(dir.resolve("model.safetensors.index.json"), "{\"weight_map\": ");
    assertThatThrownBy(() -> ShardedCheckpoint.open(dir))
        .isInstanceOf(SafetensorsFormatException.class)
        .hasMessageContaining("index file is not valid JSON");
  }

  @Test
  void corruptShardNamesTheShard() throws Exception {
    index(GOOD);
    Files.write(dir.resolve("model-00002-of-00002.safetensors"), new byte[] {1, 2});
    assertThatThrownBy(() -> ShardedCheckpoint.open(dir))
        .isInstanceOf(SafetensorsFormatException.class)
        .hasMessageContaining("model-00002-of-00002.safetensors: file has 2 bytes");
  }

  @Test
  void emptyDirectory(@TempDir Path empty) {
    assertThatThrownBy(() -> ShardedCheckpoint.open(empty))
        .isInstanceOf(NoSuchFileException.class)
        .hasMessageContaining("neither model.safetensors nor model.safetensors.index.json");
  }

  @Test
  void otherBaseName() throws Exception {
    SafetensorsWriter.write(dir.resolve("adapter_model.safetensors"),
        Map.of("lora_A", Nd4j.createFromArray(1f)), Map.of("format", "pt"));
    try (ShardedCheckpoint ckpt = ShardedCheckpoint.open(dir, "adapter_model")) {
      assertThat(ckpt.names()).containsExactly("lora_A");
    }
  }
}
