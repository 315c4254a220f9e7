package dev.loraj.core.io;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Writes and reads arrays of over 50 MB through {@link SafetensorsWriter} and
 * {@link SafetensorsFile} while another thread collects garbage in a loop. ND4J frees an
 * array's native buffer when the array is collected, so code that keeps only a raw view of a
 * temporary (a {@code ByteBuffer} from {@code asNio}, a JavaCPP pointer) reads freed memory
 * once the collector runs between the view's creation and its last use: the JVM dies with
 * SIGSEGV, which fails the surefire fork and so the build.
 *
 * <p>Runs in its own surefire execution with a small heap, so the large byte and float arrays
 * of the encoders trigger collections of their own (see lora-core's pom).
 */
class NativeReachabilityStressTest {
  private static final int ROWS = 4_096;
  private static final int COLS = 3_328; // 13.6M floats: 54.5 MB as F32

  @TempDir Path dir;

  @Test
  void largeWritesAndReadsSurviveConcurrentCollections() throws Exception {
    warmUpEncoders();
    INDArray weight = Nd4j.rand(DataType.FLOAT, ROWS, COLS);
    AtomicBoolean stop = new AtomicBoolean();
    Thread collector = new Thread(() -> {
      while (!stop.get()) {
        System.gc();
      }
    }, "gc-loop");
    collector.setDaemon(true);
    collector.start();
    try {
      for (int i = 0; i < 9; i++) {
        // a transposed view and a double array force the writer through its temporary copies
        // (C-order copy, cast); BF16 through the float widening on the way back
        SafetensorsDtype dtype = i % 3 == 2 ? SafetensorsDtype.BF16 : SafetensorsDtype.F32;
        INDArray source = switch (i % 3) {
          case 0 -> weight.transpose();
          case 1 -> weight.castTo(DataType.DOUBLE);
          default -> weight;
        };
        Path file = dir.resolve("w" + (i % 2) + ".safetensors");
        SafetensorsWriter.write(file, Map.of("w", source), Map.of("format", "pt"), dtype);
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
          INDArray back = f.getFloat("w");
          INDArray written = source.castTo(DataType.FLOAT);
          assertThat(back.shape()).containsExactly(written.shape());
          // F32 round-trips exactly; BF16 keeps 8 significant bits of values in [0, 1)
          double worst = back.sub(written).amaxNumber().doubleValue();
          assertThat(worst).isLessThanOrEqualTo(dtype == SafetensorsDtype.BF16 ? 1.0 / 256 : 0.0);
        }
      }
    } finally {
      stop.set(true);
      collector.join();
    }
  }

  /**
   * Runs the encoders often enough for the JIT to compile them: interpreted code keeps every
   * local alive to the end of its method, compiled code only to its last use, and that is
   * where a raw view outlives its owner.
   */
  private void warmUpEncoders() throws Exception {
    Map<String, INDArray> small = new java.util.LinkedHashMap<>();
    INDArray block = Nd4j.rand(DataType.FLOAT, 2, 3);
    for (int i = 0; i < 20_000; i++) {
      small.put("t" + i, i % 2 == 0 ? block.transpose() : block.castTo(DataType.DOUBLE));
    }
    SafetensorsWriter.write(dir.resolve("warm.safetensors"), small, null);
  }
}
