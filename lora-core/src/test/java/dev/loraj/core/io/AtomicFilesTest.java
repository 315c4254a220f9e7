package dev.loraj.core.io;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

class AtomicFilesTest {
  @TempDir Path dir;

  private long filesIn(Path d) throws IOException {
    try (Stream<Path> s = Files.list(d)) {
      return s.count();
    }
  }

  @Test
  void writesAndReplaces() throws Exception {
    Path target = dir.resolve("a.txt");
    AtomicFiles.writeString(target, "first");
    AtomicFiles.writeString(target, "second é");
    assertThat(Files.readString(target, StandardCharsets.UTF_8)).isEqualTo("second é");
    assertThat(filesIn(dir)).isEqualTo(1);
  }

  @Test
  void failingBodyLeavesTheOldFileAndNoTempFile() throws Exception {
    Path target = dir.resolve("a.bin");
    AtomicFiles.writeString(target, "old");
    assertThatThrownBy(() -> AtomicFiles.write(target, out -> {
      out.write(new byte[100_000]);
      throw new IOException("disk full (simulated)");
    })).isInstanceOf(IOException.class).hasMessage("disk full (simulated)");
    assertThatThrownBy(() -> AtomicFiles.write(target, out -> {
      out.write(1);
      throw new IllegalStateException("bug in the writer");
    })).isInstanceOf(IllegalStateException.class);
    assertThat(Files.readString(target)).isEqualTo("old");
    assertThat(filesIn(dir)).isEqualTo(1);
  }

  @Test
  void failingBodyWithoutAnOldFileLeavesNothing() throws Exception {
    Path target = dir.resolve("new.bin");
    assertThatThrownBy(() -> AtomicFiles.write(target, out -> {
      throw new IOException("boom");
    })).hasMessage("boom");
    assertThat(filesIn(dir)).isZero();
  }

  @Test
  void bodyMayCloseTheStream() throws Exception {
    Path target = dir.resolve("closed.txt");
    AtomicFiles.write(target, out -> {
      out.write('x');
      out.close();
    });
    assertThat(Files.readString(target)).isEqualTo("x");
  }

  @Test
  void safetensorsWriterFailureKeepsThePreviousCheckpoint() throws Exception {
    Path target = dir.resolve("model.safetensors");
    SafetensorsWriter.write(target, Map.of("w", Nd4j.createFromArray(1f, 2f)), null);
    byte[] before = Files.readAllBytes(target);
    // fails while writing the buffer: an array whose encoding throws part-way through
    INDArray closed = Nd4j.createFromArray(3f, 4f);
    closed.close();
    assertThatThrownBy(() -> SafetensorsWriter.write(target,
        Map.of("a", Nd4j.createFromArray(5f), "w", closed), null))
        .isInstanceOf(RuntimeException.class);
    // fails before writing: reserved name
    assertThatThrownBy(() -> SafetensorsWriter.write(target,
        Map.of("__metadata__", Nd4j.createFromArray(5f)), null))
        .isInstanceOf(IllegalArgumentException.class);
    assertThat(Files.readAllBytes(target)).isEqualTo(before);
    assertThat(filesIn(dir)).isEqualTo(1);
  }

  @Test
  void leftoversOfDeadWritersAreRemovedAndLiveOnesKept() throws Exception {
    Process gone = new ProcessBuilder("true").start();
    gone.waitFor();
    long dead = gone.pid();
    long self = ProcessHandle.current().pid();
    Path target = dir.resolve("adapter_model.safetensors");
    Files.writeString(target, "finished");
    Path debris = dir.resolve(".adapter_model.safetensors." + dead + ".7.tmp");
    Path mine = dir.resolve(".adapter_model.safetensors." + self + ".3.tmp");
    Path other = dir.resolve(".notes.txt.tmp"); // not named like a writer's temporary
    for (Path p : new Path[] {debris, mine, other}) {
      Files.writeString(p, "partial");
    }
    Path debrisDir = dir.resolve(".adapter." + dead + ".2.tmp"); // a directory renamed when complete
    Files.createDirectory(debrisDir);
    Files.writeString(debrisDir.resolve("adapter_config.json"), "{");
    assertThat(AtomicFiles.removeLeftovers(dir)).containsExactlyInAnyOrder(debris, debrisDir);
    assertThat(debrisDir).doesNotExist();
    assertThat(debris).doesNotExist();
    assertThat(mine).exists();
    assertThat(other).exists();
    assertThat(target).hasContent("finished");
    assertThat(AtomicFiles.removeLeftovers(dir.resolve("missing"))).isEmpty();
  }
}
