package dev.loraj.core.io;

import dev.loraj.core.testing.ExactArrays;
import static dev.loraj.core.io.SafetensorsTestSupport.floatBits;
import static dev.loraj.core.io.SafetensorsTestSupport.randomFloats;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

class SafetensorsRoundTripTest {
  @TempDir Path dir;

  static Stream<Arguments> shapes() {
    return Stream.of(
        Arguments.of((Object) new long[] {}),
        Arguments.of((Object) new long[] {0}),
        Arguments.of((Object) new long[] {2, 0, 3}),
        Arguments.of((Object) new long[] {7}),
        Arguments.of((Object) new long[] {3, 4}),
        Arguments.of((Object) new long[] {2, 3, 5}));
  }

  @ParameterizedTest
  @MethodSource("shapes")
  void f32RoundTripIsExact(long[] shape) throws Exception {
    INDArray x = randomFloats(1, shape);
    Path file = dir.resolve("f32.safetensors");
    SafetensorsWriter.write(file, Map.of("x", x), Map.of("format", "pt"));
    assertThat(SafetensorsWriter.fileSize(Map.of("x", x), Map.of("format", "pt"), SafetensorsDtype.F32))
        .isEqualTo(Files.size(file));
    try (SafetensorsFile f = SafetensorsFile.open(file)) {
      assertThat(f.info("x").dtype()).isEqualTo(SafetensorsDtype.F32);
      assertThat(f.info("x").shape()).containsExactly(shape);
      INDArray y = f.getFloat("x");
      assertThat(y.dataType()).isEqualTo(DataType.FLOAT);
      assertThat(y.ordering()).isEqualTo('c');
      assertThat(y.shape()).containsExactly(shape);
      assertThat(floatBits(y)).containsExactly(floatBits(x));
      assertThat(f.metadata()).containsExactly(Map.entry("format", "pt"));
    }
  }

  @ParameterizedTest
  @MethodSource("shapes")
  void f16AndBf16RoundTripEqualTheJavaRounding(long[] shape) throws Exception {
    INDArray x = randomFloats(2, shape);
    for (SafetensorsDtype dtype : List.of(SafetensorsDtype.F16, SafetensorsDtype.BF16)) {
      Path file = dir.resolve(dtype + ".safetensors");
      SafetensorsWriter.write(file, Map.of("x", x), null, dtype);
      try (SafetensorsFile f = SafetensorsFile.open(file)) {
        assertThat(f.info("x").dtype()).isEqualTo(dtype);
        assertThat(f.info("x").byteLength()).isEqualTo(2 * x.length());
        assertThat(f.metadata()).isEmpty();
        INDArray y = f.getFloat("x");
        assertThat(y.shape()).containsExactly(shape);
        float[] src = x.length() == 0 ? new float[0] : x.dup('c').data().asFloat();
        int[] expected = new int[src.length];
        for (int i = 0; i < src.length; i++) {
          float r = dtype == SafetensorsDtype.F16
              ? HalfPrecision.halfToFloat(HalfPrecision.floatToHalf(src[i]))
              : HalfPrecision.bfloat16ToFloat(HalfPrecision.floatToBfloat16(src[i]));
          expected[i] = Float.floatToRawIntBits(r);
        }
        assertThat(floatBits(y)).containsExactly(expected);
        INDArray raw = f.getRaw("x");
        assertThat(raw.dataType())
            .isEqualTo(dtype == SafetensorsDtype.F16 ? DataType.HALF : DataType.BFLOAT16);
        assertThat(floatBits(raw)).containsExactly(expected); // ND4J's own widening agrees
      }
    }
  }

  @Test
  void integerArraysKeepTheirType() throws Exception {
    INDArray u8 = Nd4j.create(new double[] {0, 1, 127, 128, 255, 3}, new long[] {2, 3},
        DataType.UINT8);
    INDArray i8 = Nd4j.create(new double[] {-128, -1, 0, 127}, new long[] {4}, DataType.INT8);
    INDArray i32 = Nd4j.createFromArray(new int[][] {{1, -2}, {Integer.MAX_VALUE, 0}});
    INDArray i64 = Nd4j.createFromArray(new long[] {Long.MIN_VALUE, -1, 1L << 40});
    INDArray bool = Nd4j.createFromArray(new boolean[] {true, false, true});
    Map<String, INDArray> tensors = Map.of("u8", u8, "i8", i8, "i32", i32, "i64", i64,
        "bool", bool);
    Path file = dir.resolve("ints.safetensors");
    SafetensorsWriter.write(file, tensors, null);
    try (SafetensorsFile f = SafetensorsFile.open(file)) {
      assertThat(f.info("u8").dtype()).isEqualTo(SafetensorsDtype.U8);
      assertThat(f.info("i8").dtype()).isEqualTo(SafetensorsDtype.I8);
      assertThat(f.info("i32").dtype()).isEqualTo(SafetensorsDtype.I32);
      assertThat(f.info("i64").dtype()).isEqualTo(SafetensorsDtype.I64);
      assertThat(f.info("bool").dtype()).isEqualTo(SafetensorsDtype.BOOL);
      for (Map.Entry<String, INDArray> e : tensors.entrySet()) {
        INDArray y = f.getRaw(e.getKey());
        assertThat(y.dataType()).as(e.getKey()).isEqualTo(e.getValue().dataType());
        assertThat(y.shape()).isEqualTo(e.getValue().shape());
        ExactArrays.assertBitIdentical(y, e.getValue(), e.getKey());
      }
      assertThat(f.getRaw("u8").getInt(1, 1)).isEqualTo(255);
      assertThat(f.getRaw("i64").getLong(0)).isEqualTo(Long.MIN_VALUE);
      ByteBuffer b = f.bytes("u8");
      assertThat(b.remaining()).isEqualTo(6);
      assertThat(b.get(4) & 0xff).isEqualTo(255);
      assertThat(b.isReadOnly()).isTrue();
      assertThatThrownBy(() -> f.getFloat("i64"))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("'i64'").hasMessageContaining("I64")
          .hasMessageContaining("getRaw");
    }
  }

  @Test
  void rawU8TensorDataRoundTrips() throws Exception {
    byte[] packed = {(byte) 0x0f, (byte) 0xf0, (byte) 0xa5, 0, (byte) 0xff, 1};
    Map<String, TensorData> tensors = new LinkedHashMap<>();
    tensors.put("codes", new TensorData(SafetensorsDtype.U8, new long[] {3, 2}, packed));
    tensors.put("fp8", new TensorData(SafetensorsDtype.F8_E4M3, new long[] {2}, new byte[] {1, 2}));
    tensors.put("scale", TensorData.of(Nd4j.scalar(0.5f)));
    Path file = dir.resolve("raw.safetensors");
    SafetensorsWriter.writeData(file, tensors, Map.of());
    try (SafetensorsFile f = SafetensorsFile.open(file)) {
      byte[] back = new byte[6];
      f.bytes("codes").get(back);
      assertThat(back).containsExactly(packed);
      assertThat(f.getRaw("codes").dataType()).isEqualTo(DataType.UINT8);
      assertThat(f.getFloat("scale").rank()).isZero();
      assertThat(f.getFloat("scale").getFloat(0)).isEqualTo(0.5f);
      assertThat(f.info("fp8").dtype()).isEqualTo(SafetensorsDtype.F8_E4M3);
      assertThatThrownBy(() -> f.getRaw("fp8"))
          .isInstanceOf(UnsupportedOperationException.class).hasMessageContaining("bytes()");
    }
    assertThatThrownBy(() -> new TensorData(SafetensorsDtype.F32, new long[] {2}, new byte[7]))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("length 7").hasMessageContaining("8 bytes");
  }

  @Test
  void viewsAndFortranOrderAreWrittenInCOrder() throws Exception {
    INDArray m = Nd4j.arange(20).castTo(DataType.FLOAT).reshape(4, 5);
    INDArray block = m.get(NDArrayIndex.interval(1, 3), NDArrayIndex.interval(1, 4)); // [2, 3]
    INDArray column = m.getColumn(2); // strided view, [4]
    INDArray transposed = m.transpose(); // 'f' order, [5, 4]
    INDArray fortran = Nd4j.create(new float[] {1, 2, 3, 4, 5, 6}, new long[] {2, 3}, 'f');
    INDArray doubles = m.castTo(DataType.DOUBLE).get(NDArrayIndex.point(3), NDArrayIndex.all());
    Map<String, INDArray> tensors = Map.of("block", block, "column", column,
        "transposed", transposed, "fortran", fortran, "doubles", doubles);
    for (SafetensorsDtype dtype : List.of(SafetensorsDtype.F32, SafetensorsDtype.F16,
        SafetensorsDtype.F64)) {
      Path file = dir.resolve("views-" + dtype + ".safetensors");
      SafetensorsWriter.write(file, tensors, null, dtype);
      try (SafetensorsFile f = SafetensorsFile.open(file)) {
        for (Map.Entry<String, INDArray> e : tensors.entrySet()) {
          INDArray y = f.getFloat(e.getKey());
          assertThat(y.shape()).as(e.getKey()).isEqualTo(e.getValue().shape());
          // small integers: exact in every float type
          assertThat(floatBits(y)).as(e.getKey() + " " + dtype)
              .containsExactly(floatBits(e.getValue().dup('c')));
        }
        assertThat(f.getFloat("block").toFloatMatrix())
            .isEqualTo(new float[][] {{6, 7, 8}, {11, 12, 13}});
        assertThat(f.getFloat("fortran").toFloatMatrix())
            .isEqualTo(new float[][] {{1, 3, 5}, {2, 4, 6}});
      }
    }
  }

  @Test
  void layoutFollowsTheReferenceWriter() throws Exception {
    Map<String, INDArray> tensors = new LinkedHashMap<>();
    tensors.put("z", Nd4j.createFromArray(new byte[] {1, 2, 3}).castTo(DataType.UINT8));
    tensors.put("b", randomFloats(3, 3));
    tensors.put("a", randomFloats(4, 2));
    tensors.put("i", Nd4j.createFromArray(new long[] {5}));
    Path file = dir.resolve("order.safetensors");
    SafetensorsWriter.write(file, tensors, null);
    byte[] bytes = Files.readAllBytes(file);
    long n = ByteBuffer.wrap(bytes, 0, 8).order(java.nio.ByteOrder.LITTLE_ENDIAN).getLong();
    assertThat(n % 8).isZero();
    try (SafetensorsFile f = SafetensorsFile.open(file)) {
      // widest dtype first, then by name: I64, F32 a, F32 b, U8
      assertThat(f.names()).containsExactly("i", "a", "b", "z");
      assertThat(f.info("a").begin()).isEqualTo(8);
      for (String name : f.names()) {
        long start = 8 + n + f.info(name).begin();
        assertThat(start % f.info(name).dtype().byteSize()).as(name).isZero();
      }
    }
  }

  @Test
  void writerRejectsBadInputBeforeTouchingTheFile() throws Exception {
    Path file = dir.resolve("bad.safetensors");
    assertThatThrownBy(() -> SafetensorsWriter.write(file, Map.of("__metadata__",
        Nd4j.scalar(1f)), null))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("reserved");
    assertThatThrownBy(() -> SafetensorsWriter.write(file, Map.of("x", Nd4j.scalar(1f)), null,
        SafetensorsDtype.I32))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("floatDtype is I32");
    assertThat(Files.exists(file)).isFalse();
    assertThat(Files.list(dir)).isEmpty();
  }

  @Test
  void unknownNameListsWhatExists() throws Exception {
    Path file = dir.resolve("one.safetensors");
    SafetensorsWriter.write(file, Map.of("only", Nd4j.scalar(1f)), null);
    try (SafetensorsFile f = SafetensorsFile.open(file)) {
      assertThatThrownBy(() -> f.getFloat("missing"))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("'missing'").hasMessageContaining("'only'")
          .hasMessageContaining(file.toString());
    }
  }
}
