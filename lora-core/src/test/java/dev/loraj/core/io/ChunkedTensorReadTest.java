package dev.loraj.core.io;

import static dev.loraj.core.io.SafetensorsTestSupport.floatBits;
import static dev.loraj.core.io.SafetensorsTestSupport.randomFloats;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Tensors are read a piece at a time ({@link TensorSource#bytes(String, long, int)}), so no
 * tensor size limit applies: the pieces are checked here with chunk sizes small enough to cut
 * every tensor many times (a 2 GiB tensor in a unit test would cost seconds and gigabytes), and
 * addressing past 2 GiB with a sparse file that occupies no disk blocks.
 */
class ChunkedTensorReadTest {
  @TempDir Path dir;

  private Path sample() throws Exception {
    Path f32 = dir.resolve("f32.safetensors");
    Path f16 = dir.resolve("f16.safetensors");
    Path bf16 = dir.resolve("bf16.safetensors");
    Path f64 = dir.resolve("f64.safetensors");
    Map<String, INDArray> t = new LinkedHashMap<>();
    t.put("a", randomFloats(1, 7, 13));
    t.put("b", randomFloats(2, 5));
    t.put("scalar", Nd4j.scalar(DataType.FLOAT, 3.25f));
    SafetensorsWriter.write(f32, t, null, SafetensorsDtype.F32);
    SafetensorsWriter.write(f16, t, null, SafetensorsDtype.F16);
    SafetensorsWriter.write(bf16, t, null, SafetensorsDtype.BF16);
    SafetensorsWriter.write(f64, t, null, SafetensorsDtype.F64);
    return dir;
  }

  @Test
  void chunkedDecodingEqualsWholeDecodingForEveryFloatTypeAndMapping() throws Exception {
    sample();
    for (String file : new String[] {"f32", "f16", "bf16", "f64"}) {
      Path p = dir.resolve(file + ".safetensors");
      try (SafetensorsFile whole = SafetensorsFile.open(p);
          SafetensorsFile perTensor = SafetensorsFile.open(p, 0)) {
        for (String name : whole.names()) {
          TensorInfo info = whole.info(name);
          int[] expected = floatBits(whole.getFloat(name));
          for (int chunk : new int[] {1, 7, 12, 64, 1 << 20}) {
            for (SafetensorsFile src : new SafetensorsFile[] {whole, perTensor}) {
              INDArray got = TensorCodec.decodeFloat(src, info, chunk);
              assertThat(got.shape()).as(file + " " + name).isEqualTo(whole.getFloat(name).shape());
              assertThat(floatBits(got)).as(file + " " + name + " chunk " + chunk)
                  .containsExactly(expected);
              INDArray raw = TensorCodec.decodeRaw(src, info, chunk);
              assertThat(raw.data().asBytes()).isEqualTo(whole.getRaw(name).data().asBytes());
            }
          }
        }
      }
    }
  }

  @Test
  void byteRangesAreSlicesOfTheTensorInBothMappings() throws Exception {
    sample();
    Path p = dir.resolve("bf16.safetensors");
    try (SafetensorsFile whole = SafetensorsFile.open(p);
        SafetensorsFile perTensor = SafetensorsFile.open(p, 0)) {
      ByteBuffer all = whole.bytes("a");
      for (SafetensorsFile src : new SafetensorsFile[] {whole, perTensor}) {
        ByteBuffer piece = src.bytes("a", 10, 30);
        assertThat(piece.order()).isEqualTo(ByteOrder.LITTLE_ENDIAN);
        assertThat(piece.remaining()).isEqualTo(30);
        for (int i = 0; i < 30; i++) {
          assertThat(piece.get(i)).isEqualTo(all.get(10 + i));
        }
        long n = src.info("a").byteLength();
        assertThatThrownBy(() -> src.bytes("a", n - 2, 3))
            .isInstanceOf(IndexOutOfBoundsException.class).hasMessageContaining("tensor 'a'");
        assertThatThrownBy(() -> src.bytes("a", -1, 1)).isInstanceOf(IndexOutOfBoundsException.class);
      }
    }
    try (ShardedCheckpoint cp = ShardedCheckpoint.open(writeAsModel(p))) {
      assertThat(cp.bytes("a", 4, 6).remaining()).isEqualTo(6);
    }
  }

  private Path writeAsModel(Path file) throws Exception {
    Path d = dir.resolve("model");
    java.nio.file.Files.createDirectories(d);
    java.nio.file.Files.copy(file, d.resolve("model.safetensors"));
    return d;
  }

  @Test
  void elementWindowsReadAnyRangeInAnyOrder() throws Exception {
    sample();
    for (String file : new String[] {"f32", "f16", "bf16", "f64"}) {
      try (SafetensorsFile src = SafetensorsFile.open(dir.resolve(file + ".safetensors"), 0)) {
        float[] all = src.getFloat("a").data().asFloat();
        TensorElements elements = new TensorElements(src, "a", 5);
        SplittableRandom rnd = new SplittableRandom(9);
        float[] out = new float[all.length];
        for (int k = 0; k < 200; k++) {
          int start = rnd.nextInt(all.length);
          int len = rnd.nextInt(all.length - start + 1);
          elements.read(start, len, out);
          for (int i = 0; i < len; i++) {
            assertThat(Float.floatToIntBits(out[i])).isEqualTo(Float.floatToIntBits(all[start + i]));
          }
        }
        assertThatThrownBy(() -> elements.read(all.length - 1, 2, out))
            .isInstanceOf(IndexOutOfBoundsException.class);
      }
    }
  }

  /** One F32 tensor of 2^29 + 4 elements (2 GiB + 16 bytes), all zero except its last element. */
  @Test
  void aTensorOverTwoGibibytesIsAddressedPastTheLimit() throws Exception {
    long count = (1L << 29) + 4;
    long bytes = count * 4;
    String header = "{\"big\":{\"dtype\":\"F32\",\"shape\":[" + count + "],\"data_offsets\":[0,"
        + bytes + "]}}";
    byte[] h = header.getBytes(StandardCharsets.UTF_8);
    int padded = (h.length + 7) / 8 * 8;
    Path file = dir.resolve("big.safetensors");
    try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw")) {
      raf.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(padded).array());
      byte[] hp = new byte[padded];
      java.util.Arrays.fill(hp, (byte) ' ');
      System.arraycopy(h, 0, hp, 0, h.length);
      raf.write(hp);
      raf.setLength(8 + padded + bytes); // sparse: no blocks for the zeros
      raf.seek(8 + padded + bytes - 4);
      raf.write(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putFloat(1.5f).array());
    }
    try (SafetensorsFile src = SafetensorsFile.open(file)) {
      assertThat(src.mapsPerTensor()).isTrue();
      assertThatThrownBy(() -> src.bytes("big")).isInstanceOf(UnsupportedOperationException.class)
          .hasMessageContaining("bytes(name, offset, length)");
      assertThat(src.bytes("big", bytes - 8, 8).getFloat(4)).isEqualTo(1.5f);
      TensorElements elements = new TensorElements(src, "big", 4);
      float[] out = new float[3];
      elements.read(count - 3, 3, out);
      assertThat(out).containsExactly(0f, 0f, 1.5f);
    }
  }
}
