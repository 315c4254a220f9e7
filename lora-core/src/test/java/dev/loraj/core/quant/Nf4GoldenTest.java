package dev.loraj.core.quant;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Golden NF4 packed bytes and absmax of a deterministic 2 x 64 input, block 64, no double
 * quantization. The expected values were computed independently by
 * {@code scripts/golden/nf4_golden.py} (numpy: bitsandbytes' {@code dQuantizeNF4} decision tree
 * on {@code x * (1 / absmax)} in float32, high nibble first) and pasted here; the script also
 * rederives the NF4 levels from their normal-quantile definition (max difference to the
 * literal table: 0). The levels themselves are checked in
 * {@link QuantizedWeightTest#nf4LevelsAreExactlyTheReferenceCodebook()}.
 */
class Nf4GoldenTest {

  /** {@code x[r][c] = (((7 k^2 + 3 k) mod 97) - 41) / (16 + 8 r)} with {@code k = 64 r + c}. */
  static INDArray input() {
    float[] v = new float[128];
    for (int k = 0; k < 128; k++) {
      int r = k / 64;
      v[k] = (float) ((((7L * k * k + 3L * k) % 97) - 41) / (double) (16 + 8 * r));
    }
    return Nd4j.create(v, new long[] {2, 64}, DataType.FLOAT); // [2, 64]
  }

  private static final int[] PACKED = {
      // block 0 (row 0)
      0x12, 0x6D, 0x4F, 0xED, 0xE2, 0x91, 0xDB, 0xAD, 0xF6, 0xFC, 0x88, 0xBE, 0x5E, 0xB7, 0x7B, 0xE5,
      0xEB, 0x88, 0xCF, 0x6F, 0xDA, 0xBD, 0x19, 0x2E, 0xDE, 0xF4, 0xD6, 0x21, 0x13, 0xA1, 0xC7, 0x56,
      // block 1 (row 1)
      0xAF, 0x61, 0xED, 0xDF, 0x5E, 0x84, 0x34, 0x8E, 0x5F, 0xDD, 0xE1, 0x6F, 0xA6, 0x57, 0xC1, 0xA3,
      0x11, 0x26, 0xD4, 0xFE, 0xDE, 0x29, 0x1D, 0xBA, 0xCF, 0x6F, 0xB8, 0x8B, 0xE5, 0xEB, 0x77, 0xBE};

  private static final float[] ABSMAX = {3.3125f, 2.25f};

  @Test
  void packedBytesAndAbsmaxMatchTheIndependentComputation() {
    QuantizedWeight q = QuantizedWeight.quantize(input(), QuantFormat.NF4, 64, false);
    byte[] expected = new byte[PACKED.length];
    for (int i = 0; i < PACKED.length; i++) {
      expected[i] = (byte) PACKED[i];
    }
    assertThat(q.codes()).containsExactly(expected);
    assertThat(q.absmax()).containsExactly(ABSMAX);
  }

  @Test
  void frobeniusErrorMatchesTheIndependentComputation() {
    INDArray x = input();
    QuantizedWeight q = QuantizedWeight.quantize(x, QuantFormat.NF4, 64, false);
    // script: ||x - deq||_F = 1.558378106
    assertThat(QuantizationError.frobenius(x, q)).isCloseTo(1.558378106, within(1e-6));
  }
}
