package dev.loraj.core.io;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.SplittableRandom;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

final class SafetensorsTestSupport {
  private SafetensorsTestSupport() {}

  /** u64 length + header + buffer. */
  static byte[] assemble(long declaredLength, byte[] header, int bufferBytes) {
    ByteBuffer b = ByteBuffer.allocate(8 + header.length + bufferBytes)
        .order(ByteOrder.LITTLE_ENDIAN);
    b.putLong(declaredLength).put(header);
    for (int i = 0; i < bufferBytes; i++) {
      b.put((byte) i);
    }
    return b.array();
  }

  static byte[] assemble(String header, int bufferBytes) {
    byte[] h = header.getBytes(StandardCharsets.UTF_8);
    return assemble(h.length, h, bufferBytes);
  }

  /** The elements as float bits in C order, exact (NaN payloads included). */
  static int[] floatBits(INDArray a) {
    if (a.isEmpty() || a.length() == 0) {
      return new int[0];
    }
    float[] f = a.castTo(DataType.FLOAT).dup('c').data().asFloat();
    int[] bits = new int[(int) a.length()];
    for (int i = 0; i < bits.length; i++) {
      bits[i] = Float.floatToRawIntBits(f[i]);
    }
    return bits;
  }

  static INDArray randomFloats(long seed, long... shape) {
    SplittableRandom rng = new SplittableRandom(seed);
    long n = 1;
    for (long d : shape) {
      n *= d;
    }
    float[] data = new float[(int) n];
    for (int i = 0; i < data.length; i++) {
      data[i] = (float) (rng.nextGaussian() * 3);
    }
    if (n == 0) {
      return Nd4j.create(DataType.FLOAT, shape, 'c');
    }
    if (shape.length == 0) {
      return Nd4j.scalar(data[0]);
    }
    return Nd4j.create(data, shape, 'c');
  }
}
