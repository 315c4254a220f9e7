package dev.loraj.core.quant;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.util.Random;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

class QuantizedWeightTest {

  /** The NF4 levels of docs/variants.md, QLoRA (bitsandbytes get_4bit_type("nf4")), index 0..15. */
  private static final double[] NF4_REFERENCE = {
      -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453,
      -0.28444138169288635, -0.18477343022823334, -0.09105003625154495, 0.0,
      0.07958029955625534, 0.16093020141124725, 0.24611230194568634, 0.33791524171829224,
      0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0};

  private static INDArray matrix(int rows, int cols, float... values) {
    return Nd4j.create(values, new long[] {rows, cols}, DataType.FLOAT);
  }

  private static INDArray gaussian(int rows, int cols, long seed, double std) {
    Random rnd = new Random(seed);
    float[] v = new float[rows * cols];
    for (int i = 0; i < v.length; i++) {
      v[i] = (float) (rnd.nextGaussian() * std);
    }
    return matrix(rows, cols, v);
  }

  private static float[] floats(INDArray a) {
    return a.dup('c').data().asFloat();
  }

  // ---------------------------------------------------------------------------- tables

  @Test
  void nf4LevelsAreExactlyTheReferenceCodebook() {
    float[] levels = QuantFormat.NF4.levels();
    assertThat(levels).hasSize(16);
    for (int i = 0; i < 16; i++) {
      // each printed value is an exact float32, so the float widened to double equals it
      assertThat((double) levels[i]).as("NF4[%d]", i).isEqualTo(NF4_REFERENCE[i]);
    }
  }

  @Test
  void fp4LevelsAreBitsandbytesFp4MapOverTwelve() {
    float[] levels = QuantFormat.FP4.levels();
    float[] expected = {0f, 0.0625f / 12f, 8f / 12f, 1f, 4f / 12f, 0.5f, 2f / 12f, 0.25f,
        -0f, -0.0625f / 12f, -8f / 12f, -1f, -4f / 12f, -0.5f, -2f / 12f, -0.25f};
    assertThat(levels).containsExactly(expected);
  }

  @Test
  void intLevelsAreSymmetricTwosComplement() {
    float[] int4 = QuantFormat.INT4.levels();
    assertThat(int4[7]).isEqualTo(1f);
    assertThat(int4[0x9]).isEqualTo(-7f / 7f);   // 1001 = -7
    assertThat(int4[0xF]).isEqualTo(-1f / 7f);
    float[] int8 = QuantFormat.INT8.levels();
    assertThat(int8[127]).isEqualTo(1f);
    assertThat(int8[0x81]).isEqualTo(-1f);       // (byte) 0x81 = -127
  }

  @Test
  void dynamicMapHasBitsandbytesShape() {
    float[] map = DynamicMap.values();
    assertThat(map).hasSize(256);
    for (int i = 1; i < 256; i++) {
      assertThat(map[i]).as("ascending at %d", i).isGreaterThan(map[i - 1]);
    }
    assertThat(map[255]).isEqualTo(1.0f);
    // largest magnitude of the last decade: midpoint of the last two of 65 boundaries on [0.1, 1]
    assertThat(map[0]).isEqualTo(-0.99296875f);
    assertThat(map).contains(0f, 5.5e-7f, -5.5e-7f, 0.325e-5f, 0.775e-5f);
    long positives = 0;
    for (float v : map) {
      positives += v > 0 ? 1 : 0;
    }
    assertThat(positives).isEqualTo(128); // 127 midpoints + 1.0
  }

  // ---------------------------------------------------------------------------- codes

  @Test
  void firstElementGoesToTheHighNibble() {
    QuantizedWeight q = QuantizedWeight.quantize(matrix(1, 2, 1f, -1f), QuantFormat.NF4, 64,
        false);
    assertThat(q.codes()).containsExactly((byte) 0xF0);
    QuantizedWeight r = QuantizedWeight.quantize(matrix(1, 2, -1f, 1f), QuantFormat.NF4, 64,
        false);
    assertThat(r.codes()).containsExactly((byte) 0x0F);
    // odd count: the last low nibble stays 0
    QuantizedWeight odd = QuantizedWeight.quantize(matrix(1, 3, 1f, 0f, -1f), QuantFormat.NF4,
        64, false);
    assertThat(odd.codes()).containsExactly((byte) 0xF7, (byte) 0x00);
  }

  /**
   * Hand computation, block [1.0, -0.5, 0.25, 2.0], absmax 2, normalized [0.5, -0.25, 0.125, 1]:
   * 0.5 lies between NF4[12] = 0.4407 (distance 0.0593) and NF4[13] = 0.5626 (0.0626) -> 12;
   * -0.25 between NF4[4] = -0.2844 (0.0344) and NF4[5] = -0.1848 (0.0652) -> 4;
   * 0.125 between NF4[8] = 0.0796 (0.0454) and NF4[9] = 0.1609 (0.0359) -> 9; 1 -> 15.
   * Codes 12, 4, 9, 15 pack as 0xC4, 0x9F; dequantized = level * 2.
   */
  @Test
  void nf4HandExample() {
    QuantizedWeight q = QuantizedWeight.quantize(matrix(1, 4, 1.0f, -0.5f, 0.25f, 2.0f),
        QuantFormat.NF4, 4, false);
    assertThat(q.codes()).containsExactly((byte) 0xC4, (byte) 0x9F);
    assertThat(q.absmax()).containsExactly(2f);
    assertThat(floats(q.dequantize())).containsExactly(
        0.44070982933044434f * 2f, -0.28444138169288635f * 2f, 0.16093020141124725f * 2f, 2f);
  }

  /**
   * Block [2, -0.5, 0.1, 0], normalized [1, -0.25, 0.05, 0].
   * INT8: q = round(127 x) = 127, -32 (-31.75), 6 (6.35), 0.
   * INT4: q = round(7 x) = 7, -2 (-1.75), 0 (0.35), 0 -> nibbles 7, E, 0, 0.
   * FP4: 1 -> code 3; -0.25 = -3/12 -> code 15; 0.05 is nearest to 1/192 (code 1) rather than
   * 1/6 (code 6); 0 -> code 0 -> bytes 0x3F, 0x10.
   */
  @Test
  void intAndFp4HandExample() {
    INDArray w = matrix(1, 4, 2f, -0.5f, 0.1f, 0f);
    QuantizedWeight i8 = QuantizedWeight.quantize(w, QuantFormat.INT8, 4, false);
    assertThat(i8.codes()).containsExactly((byte) 127, (byte) -32, (byte) 6, (byte) 0);
    assertThat(floats(i8.dequantize())).containsExactly(
        2f, -32f / 127f * 2f, 6f / 127f * 2f, 0f);
    QuantizedWeight i4 = QuantizedWeight.quantize(w, QuantFormat.INT4, 4, false);
    assertThat(i4.codes()).containsExactly((byte) 0x7E, (byte) 0x00);
    assertThat(floats(i4.dequantize())).containsExactly(2f, -2f / 7f * 2f, 0f, 0f);
    QuantizedWeight f4 = QuantizedWeight.quantize(w, QuantFormat.FP4, 4, false);
    assertThat(f4.codes()).containsExactly((byte) 0x3F, (byte) 0x10);
    assertThat(floats(f4.dequantize())).containsExactly(2f, -0.5f, 0.0625f / 12f * 2f, 0f);
  }

  /** Halving a float is exact, so NF4[8]/2 and NF4[6]/2 are exact midpoints (absmax 1). */
  @Test
  void tiesGoToTheLowerIndex() {
    float mid78 = 0.07958029955625534f / 2f;   // between NF4[7] = 0 and NF4[8]
    float mid67 = -0.09105003625154495f / 2f;  // between NF4[6] and NF4[7] = 0
    QuantizedWeight q = QuantizedWeight.quantize(matrix(1, 4, 1f, mid78, mid67, 0f),
        QuantFormat.NF4, 4, false);
    assertThat(q.codes()).containsExactly((byte) 0xF7, (byte) 0x67);
    // bitsandbytes' NF4 decision tree agrees: x > 0.0397901497... -> 8 else 7;
    // x > -0.0455250181... -> 7 else 6
  }

  // ---------------------------------------------------------------------------- errors

  @Test
  void roundTripErrorOnGaussianWeights() {
    INDArray w = gaussian(256, 512, 42, 1.0);
    double nf4 = 0;
    double fp4 = 0;
    double int4 = 0;
    for (QuantFormat f : java.util.Arrays.stream(QuantFormat.values()).filter(QuantFormat::blockwise).toList()) {
      QuantizedWeight q = QuantizedWeight.quantize(w, f, 64, false);
      QuantizationError.Summary e = QuantizationError.measure(w, q);
      System.out.printf("N(0,1) 256x512 block 64 %-5s relFro %.5f  fro %.3f  maxAbs %.4f%n",
          f, e.relativeFrobenius(), e.frobenius(), e.maxAbs());
      // per element: |w - deq| <= absmax_b * (largest half-gap of the level table)
      float[] levels = f.levels();
      float[] sorted = levels.clone();
      java.util.Arrays.sort(sorted);
      double halfGap = 0;
      for (int i = 1; i < sorted.length; i++) {
        halfGap = Math.max(halfGap, (sorted[i] - sorted[i - 1]) / 2.0);
      }
      float[] orig = floats(w);
      float[] deq = floats(q.dequantize());
      double worstExcess = Double.NEGATIVE_INFINITY;
      for (int e2 = 0; e2 < orig.length; e2++) {
        double bound = q.blockAbsmax(e2 / 64) * halfGap * (1 + 1e-6) + 1e-7;
        worstExcess = Math.max(worstExcess, Math.abs(orig[e2] - deq[e2]) - bound);
      }
      assertThat(worstExcess).as("%s: largest error beyond absmax * half-gap", f)
          .isLessThanOrEqualTo(0.0);
      switch (f) {
        case NF4 -> nf4 = e.relativeFrobenius();
        case FP4 -> fp4 = e.relativeFrobenius();
        case INT4 -> int4 = e.relativeFrobenius();
        case INT8 -> assertThat(e.relativeFrobenius()).isLessThan(0.01);
      }
    }
    assertThat(nf4).isLessThan(0.11);
    // QLoRA section 3/5: NF4 beats the other 4-bit types on normally distributed weights
    assertThat(nf4).isLessThan(int4).isLessThan(fp4);
  }

  @Test
  void doubleQuantizationKeepsTheErrorClose() {
    INDArray w = gaussian(512, 512, 7, 0.02);
    QuantizedWeight plain = QuantizedWeight.quantize(w, QuantFormat.NF4, 64, false);
    QuantizedWeight dq = QuantizedWeight.quantize(w, QuantFormat.NF4, 64, true);
    assertThat(dq.codes()).containsExactly(plain.codes());
    float[] exact = plain.absmax();
    double worst = 0;
    for (int b = 0; b < exact.length; b++) {
      worst = Math.max(worst, Math.abs(dq.blockAbsmax(b) - exact[b]) / exact[b]);
    }
    double e0 = QuantizationError.relativeFrobenius(w, plain);
    double e1 = QuantizationError.relativeFrobenius(w, dq);
    System.out.printf("NF4 double quant: worst relative absmax error %.5f, relFro %.5f -> %.5f%n",
        worst, e0, e1);
    assertThat(worst).isLessThan(0.02);
    assertThat(e1).isCloseTo(e0, within(0.005));
  }

  @Test
  void bitsPerParameter() {
    INDArray w = gaussian(1024, 1024, 3, 1.0);
    QuantizedWeight plain = QuantizedWeight.quantize(w, QuantFormat.NF4, 64, false);
    assertThat(plain.bitsPerParameter()).isEqualTo(4.5);
    assertThat(plain.storageBytes()).isEqualTo(1024 * 1024 / 2 + 4L * 16384);
    QuantizedWeight dq = QuantizedWeight.quantize(w, QuantFormat.NF4, 64, true);
    // 16384 one-byte absmax codes, 64 fp32 second-level scales, one fp32 offset
    assertThat(dq.storageBytes()).isEqualTo(1024 * 1024 / 2 + 16384 + 4L * 64 + 4);
    assertThat(dq.bitsPerParameter()).isCloseTo(4 + 8.0 / 64 + 32.0 / (64 * 256), within(1e-4));
    assertThat(dq.bitsPerParameter()).isCloseTo(4.127, within(0.001));
    System.out.printf("NF4 1024x1024: %.5f bits/param, with double quant %.5f%n",
        plain.bitsPerParameter(), dq.bitsPerParameter());
    QuantizedWeight i8 = QuantizedWeight.quantize(w, QuantFormat.INT8, 64, false);
    assertThat(i8.bitsPerParameter()).isEqualTo(8.5);
  }

  // ---------------------------------------------------------------------------- edge cases

  @Test
  void partialLastBlockAndBlocksSpanningRows() {
    float[] v = new float[21];
    for (int i = 0; i < v.length; i++) {
      v[i] = (i % 5 - 2) * (i + 1) * 0.1f;
    }
    INDArray w = matrix(3, 7, v);
    QuantizedWeight q = QuantizedWeight.quantize(w, QuantFormat.NF4, 8, false);
    assertThat(q.blockCount()).isEqualTo(3);       // 8 + 8 + 5
    assertThat(q.codes()).hasSize(11);             // 21 codes, two per byte
    float[] absmax = q.absmax();
    float[] levels = QuantFormat.NF4.levels();
    float[] deq = floats(q.dequantize());
    for (int b = 0; b < 3; b++) {
      float a = 0;
      for (int e = 8 * b; e < Math.min(8 * b + 8, 21); e++) {
        a = Math.max(a, Math.abs(v[e]));
      }
      assertThat(absmax[b]).isEqualTo(a);
      for (int e = 8 * b; e < Math.min(8 * b + 8, 21); e++) {
        int code = QuantFormat.NF4.codebook().nearest(v[e] / a);
        assertThat(deq[e]).as("element %d", e).isEqualTo(levels[code] * a);
      }
    }
    // the whole weight in one partial block (block 64 > 21 elements)
    QuantizedWeight one = QuantizedWeight.quantize(w, QuantFormat.NF4, 64, true);
    assertThat(one.blockCount()).isEqualTo(1);
    assertThat(QuantizationError.relativeFrobenius(w, one)).isLessThan(0.15);
  }

  @Test
  void dequantizeRowsReusesTheCallersBufferAtOddOffsets() {
    INDArray w = gaussian(5, 7, 11, 1.0);  // rows start at odd flat indices: split bytes
    for (QuantFormat f : java.util.Arrays.stream(QuantFormat.values()).filter(QuantFormat::blockwise).toList()) {
      QuantizedWeight q = QuantizedWeight.quantize(w, f, 4, f == QuantFormat.NF4);
      float[] all = floats(q.dequantize());
      float[] buf = new float[100];
      java.util.Arrays.fill(buf, 99f);
      q.dequantizeRows(1, 3, buf);
      assertThat(java.util.Arrays.copyOfRange(buf, 0, 21))
          .containsExactly(java.util.Arrays.copyOfRange(all, 7, 28));
      assertThat(buf[21]).isEqualTo(99f);  // nothing written past rows * in
    }
    QuantizedWeight q = QuantizedWeight.quantize(w, QuantFormat.NF4, 4, false);
    assertThatThrownBy(() -> q.dequantizeRows(3, 3, new float[21]))
        .isInstanceOf(IndexOutOfBoundsException.class).hasMessageContaining("[3, 6)");
    assertThatThrownBy(() -> q.dequantizeRows(0, 2, new float[13]))
        .hasMessageContaining("out.length: 13, need at least 14");
  }

  @Test
  void zeroBlockGivesZerosNotNaN() {
    INDArray w = gaussian(4, 64, 5, 1.0);
    w.getRow(1).assign(0);
    w.getRow(3).assign(0);
    for (QuantFormat f : java.util.Arrays.stream(QuantFormat.values()).filter(QuantFormat::blockwise).toList()) {
      for (boolean dq : new boolean[] {false, true}) {
        QuantizedWeight q = QuantizedWeight.quantize(w, f, 64, dq);
        float[] deq = floats(q.dequantize());
        for (int i = 0; i < deq.length; i++) {
          assertThat(deq[i]).as("%s dq=%s element %d", f, dq, i).isNotNaN();
        }
        for (int i = 64; i < 128; i++) {
          assertThat(deq[i]).as("%s dq=%s element %d", f, dq, i).isEqualTo(0f);
        }
      }
    }
    QuantizedWeight allZero = QuantizedWeight.quantize(Nd4j.zeros(DataType.FLOAT, 3, 70),
        QuantFormat.NF4, 64, true);
    assertThat(floats(allZero.dequantize())).containsOnly(0f);
  }

  @Test
  void nonFiniteInputIsRejectedByIndex() {
    INDArray w = gaussian(3, 4, 1, 1.0);
    w.putScalar(1, 2, Float.NaN);
    assertThatThrownBy(() -> QuantizedWeight.quantize(w, QuantFormat.NF4, 64, false))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("w[1, 2] = NaN")
        .hasMessageContaining("finite");
    w.putScalar(1, 2, 0);
    w.putScalar(2, 3, Float.NEGATIVE_INFINITY);
    assertThatThrownBy(() -> QuantizedWeight.quantize(w, QuantFormat.INT8, 64, true))
        .hasMessageContaining("w[2, 3] = -Infinity");
  }

  @Test
  void invalidArgumentsNameTheField() {
    assertThatThrownBy(() -> QuantizedWeight.quantize(Nd4j.zeros(DataType.FLOAT, 2, 3, 4),
        QuantFormat.NF4, 64, false)).hasMessageContaining("w: expected a 2-D weight");
    assertThatThrownBy(() -> QuantizedWeight.quantize(Nd4j.zeros(DataType.FLOAT, 2, 3),
        QuantFormat.NF4, 0, false)).hasMessageContaining("blockSize: 0");
    assertThatThrownBy(() -> QuantizedWeight.quantize(Nd4j.zeros(DataType.INT, 2, 3),
        QuantFormat.NF4, 64, false)).hasMessageContaining("floating-point");
    QuantizedWeight q = QuantizedWeight.quantize(gaussian(4, 8, 1, 1), QuantFormat.NF4, 64,
        false);
    assertThatThrownBy(() -> q.matmulTransposed(Nd4j.zeros(DataType.FLOAT, 2, 4)))
        .hasMessageContaining("x: expected shape [n, 8]");
    assertThatThrownBy(() -> q.matmul(Nd4j.zeros(DataType.FLOAT, 2, 8)))
        .hasMessageContaining("dy: expected shape [n, 4]");
    assertThatThrownBy(q::absmaxCodes).hasMessageContaining("not double-quantized");
  }

  // ---------------------------------------------------------------------------- parts

  @Test
  void rebuildingFromPartsGivesTheSameWeight() {
    INDArray w = gaussian(40, 70, 9, 1.0);
    QuantizedWeight a = QuantizedWeight.quantize(w, QuantFormat.NF4, 64, false);
    QuantizedWeight a2 = QuantizedWeight.of(QuantFormat.NF4, 40, 70, 64, a.codes(), a.absmax());
    assertThat(floats(a2.dequantize())).containsExactly(floats(a.dequantize()));
    QuantizedWeight b = QuantizedWeight.quantize(w, QuantFormat.FP4, 64, true);
    QuantizedWeight b2 = QuantizedWeight.ofDoubleQuantized(QuantFormat.FP4, 40, 70, 64,
        b.codes(), b.absmaxCodes(), b.absmaxScales(), b.absmaxOffset());
    assertThat(floats(b2.dequantize())).containsExactly(floats(b.dequantize()));
    assertThat(b2.storageBytes()).isEqualTo(b.storageBytes());
    assertThatThrownBy(() -> QuantizedWeight.of(QuantFormat.NF4, 40, 70, 64, new byte[3],
        a.absmax())).hasMessageContaining("codes.length: 3, expected 1400");
  }

  // ---------------------------------------------------------------------------- matmuls

  @Test
  void matmulTransposedEqualsDenseProduct() {
    INDArray w = gaussian(600, 96, 21, 0.05);   // 3 chunks of 256 rows, the last partial
    INDArray x = gaussian(5, 96, 22, 1.0);
    for (QuantFormat f : java.util.Arrays.stream(QuantFormat.values()).filter(QuantFormat::blockwise).toList()) {
      QuantizedWeight q = QuantizedWeight.quantize(w, f, 64, true);
      INDArray expected = x.mmul(q.dequantize().transpose());   // [5, 96] x [96, 600]
      INDArray actual = q.matmulTransposed(x);
      assertThat(actual.shape()).containsExactly(5, 600);
      assertThat(maxAbsDiff(actual, expected)).as("%s", f).isLessThan(1e-5);
      // a reused small buffer (7 rows per chunk) gives the same result
      try (DequantBuffer buf = new DequantBuffer(7, 96)) {
        assertThat(maxAbsDiff(q.matmulTransposed(x, buf), expected)).isLessThan(1e-5);
        assertThat(maxAbsDiff(q.matmulTransposed(x.mul(2), buf), expected.mul(2)))
            .isLessThan(2e-5);
      }
      // a buffer larger than the weight: one chunk, read through a row view of the buffer
      try (DequantBuffer buf = new DequantBuffer(1000, 96)) {
        assertThat(maxAbsDiff(q.matmulTransposed(x, buf), expected)).isLessThan(1e-5);
      }
    }
    // a weight that fits one chunk, and a double-precision input
    QuantizedWeight small = QuantizedWeight.quantize(gaussian(10, 96, 23, 0.05),
        QuantFormat.NF4, 64, false);
    INDArray expected = x.mmul(small.dequantize().transpose());
    assertThat(maxAbsDiff(small.matmulTransposed(x.castTo(DataType.DOUBLE)), expected))
        .isLessThan(1e-5);
  }

  @Test
  void matmulEqualsDenseInputGradient() {
    INDArray w = gaussian(600, 96, 31, 0.05);
    INDArray dy = gaussian(5, 600, 32, 1.0);
    for (QuantFormat f : new QuantFormat[] {QuantFormat.NF4, QuantFormat.INT8}) {
      QuantizedWeight q = QuantizedWeight.quantize(w, f, 64, false);
      INDArray expected = dy.mmul(q.dequantize());              // [5, 600] x [600, 96]
      INDArray actual = q.matmul(dy);
      assertThat(actual.shape()).containsExactly(5, 96);
      assertThat(maxAbsDiff(actual, expected)).as("%s", f).isLessThan(1e-5);
      for (int chunkRows : new int[] {7, 1000}) {
        try (DequantBuffer buf = new DequantBuffer(chunkRows, 96)) {
          assertThat(maxAbsDiff(q.matmul(dy, buf), expected)).isLessThan(1e-5);
        }
      }
    }
    // input gradient through a view of a larger array (non-contiguous rows)
    QuantizedWeight q = QuantizedWeight.quantize(w, QuantFormat.NF4, 64, false);
    INDArray big = gaussian(5, 700, 33, 1.0);
    INDArray view = big.get(NDArrayIndex.all(), NDArrayIndex.interval(50, 650));
    assertThat(maxAbsDiff(q.matmul(view), view.dup().mmul(q.dequantize()))).isLessThan(1e-5);
  }

  @Test
  void productsWriteIntoTheGivenOutputAndStorageIsCountedOnce() {
    QuantizedWeight q = QuantizedWeight.quantize(gaussian(600, 96, 41, 0.05), QuantFormat.NF4, 64, true);
    INDArray x = gaussian(5, 96, 42, 1.0);
    INDArray y = Nd4j.zeros(DataType.FLOAT, 5, 600);
    INDArray dx = Nd4j.zeros(DataType.FLOAT, 5, 96);
    try (DequantBuffer buf = new DequantBuffer(256, 96)) {
      q.matmulTransposedInto(x, buf, y);
      q.matmulInto(y, buf, dx);
    }
    INDArray deq = q.dequantize();
    assertThat(maxAbsDiff(y, x.mmul(deq.transpose()))).isLessThan(1e-5);
    assertThat(maxAbsDiff(dx, y.mmul(deq))).isLessThan(1e-4);
    assertThatThrownBy(() -> q.matmulTransposedInto(x, new DequantBuffer(8, 96), Nd4j.zeros(DataType.FLOAT, 5, 599)))
        .hasMessageContaining("[5, 600]");
    // the ledger counts codes and scales (on the heap) once, as the closed form says
    dev.loraj.core.engine.MemoryLedger ledger = new dev.loraj.core.engine.MemoryLedger();
    q.addTo(ledger);
    q.addTo(ledger);
    assertThat(ledger.bytes(dev.loraj.core.engine.MemoryLedger.Category.QUANTIZED))
        .isEqualTo(q.storageBytes())
        .isEqualTo(QuantizedWeight.storageBytes(QuantFormat.NF4, 600, 96, 64, true));
  }

  private static double maxAbsDiff(INDArray a, INDArray b) {
    return a.castTo(DataType.DOUBLE).sub(b.castTo(DataType.DOUBLE)).amaxNumber().doubleValue();
  }
}
