package dev.loraj.core.quant;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.loraj.core.engine.MemoryLedger;
import dev.loraj.core.io.HalfPrecision;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Frozen weights held in 16 bits ({@link QuantFormat#BF16}, {@link QuantFormat#F16}): rounded
 * to nearest even, widened exactly, multiplied in float32 a chunk of rows at a time, counted at
 * 2 bytes a parameter as frozen memory.
 */
class HalfPrecisionWeightTest {

  private static INDArray gaussian(long rows, long cols, long seed) {
    Nd4j.getRandom().setSeed(seed);
    return Nd4j.randn(DataType.FLOAT, rows, cols);
  }

  @Test
  void elementsAreRoundedToNearestEvenAndWidenedExactly() {
    INDArray w = gaussian(37, 19, 1);
    float[] values = w.data().asFloat();
    for (QuantFormat f : new QuantFormat[] {QuantFormat.BF16, QuantFormat.F16}) {
      QuantizedWeight q = QuantizedWeight.quantize(w, f, 64, true); // block settings are ignored
      assertThat(q.format()).isEqualTo(f);
      assertThat(q.doubleQuantized()).isFalse();
      float[] deq = q.dequantize().data().asFloat();
      byte[] codes = q.codes();
      for (int i = 0; i < values.length; i++) {
        short bits = f == QuantFormat.BF16 ? HalfPrecision.floatToBfloat16(values[i])
            : HalfPrecision.floatToHalf(values[i]);
        float wide = f == QuantFormat.BF16 ? HalfPrecision.bfloat16ToFloat(bits)
            : HalfPrecision.halfToFloat(bits);
        assertThat(deq[i]).isEqualTo(wide);
        assertThat((short) ((codes[2 * i] & 0xff) | (codes[2 * i + 1] << 8))).isEqualTo(bits);
      }
      assertThat(q.storageBytes()).isEqualTo(2L * values.length);
      assertThat(q.bitsPerParameter()).isEqualTo(16.0);
      assertThat(QuantizedWeight.storageBytes(f, 37, 19, 64, true)).isEqualTo(2L * 37 * 19);
      assertThatThrownBy(() -> q.blockAbsmax(0)).isInstanceOf(IllegalStateException.class)
          .hasMessageContaining(f.json());
      // quantizing the held values again keeps them (rounding a 16-bit value to its own type)
      QuantizedWeight again = QuantizedWeight.quantize(q.dequantize(), f, 64, false);
      assertThat(again.codes()).isEqualTo(codes);
    }
  }

  @Test
  void halvesFromCheckpointBitsAreKeptBitForBit() {
    short[] bits = {0x3f80, (short) 0xbf80, 0x7f80, 0x0001, 0x4049, 0x0000};
    QuantizedWeight q = QuantizedWeight.ofHalves(QuantFormat.BF16, 2, 3, java.nio.ShortBuffer.wrap(bits));
    assertThat(q.dequantize().data().asFloat())
        .containsExactly(1f, -1f, Float.POSITIVE_INFINITY, Float.intBitsToFloat(0x00010000),
            HalfPrecision.bfloat16ToFloat((short) 0x4049), 0f);
    assertThatThrownBy(() -> QuantizedWeight.ofHalves(QuantFormat.NF4, 2, 3, java.nio.ShortBuffer.wrap(bits)))
        .hasMessageContaining("format: nf4");
    assertThatThrownBy(() -> QuantizedWeight.ofHalves(QuantFormat.F16, 2, 2, java.nio.ShortBuffer.wrap(bits)))
        .hasMessageContaining("6 elements, expected 4");
  }

  @Test
  void chunkedMatmulsComputeInFloat32OnTheWidenedWeight() {
    INDArray w = gaussian(600, 96, 2); // 600 rows: three chunks of 256
    INDArray x = gaussian(5, 96, 3);
    INDArray dy = gaussian(5, 600, 4);
    for (QuantFormat f : new QuantFormat[] {QuantFormat.BF16, QuantFormat.F16}) {
      QuantizedWeight q = QuantizedWeight.quantize(w, f, 64, false);
      INDArray wide = q.dequantize();
      assertThat(maxAbs(q.matmulTransposed(x).sub(x.mmul(wide.transpose())))).isLessThan(1e-4);
      assertThat(maxAbs(q.matmul(dy).sub(dy.mmul(wide)))).isLessThan(1e-4);
    }
  }

  @Test
  void theLedgerCountsTwoBytesAParameterAsFrozen() {
    QuantizedWeight q = QuantizedWeight.quantize(gaussian(64, 48, 5), QuantFormat.BF16, 64, false);
    MemoryLedger ledger = new MemoryLedger();
    q.addTo(ledger);
    assertThat(ledger.bytes(MemoryLedger.Category.FROZEN)).isEqualTo(2L * 64 * 48);
    assertThat(ledger.bytes(MemoryLedger.Category.QUANTIZED)).isZero();
    QuantizedWeight nf4 = QuantizedWeight.quantize(gaussian(64, 48, 5), QuantFormat.NF4, 64, true);
    MemoryLedger l2 = new MemoryLedger();
    nf4.addTo(l2);
    assertThat(l2.bytes(MemoryLedger.Category.FROZEN)).isZero();
    assertThat(l2.bytes(MemoryLedger.Category.QUANTIZED)).isEqualTo(nf4.storageBytes());
  }

  @Test
  void sixteenBitFormatsAreNotQuantizationSettings() {
    assertThat(QuantFormat.BF16.blockwise()).isFalse();
    assertThat(QuantFormat.NF4.blockwise()).isTrue();
    assertThatThrownBy(() -> QuantFormat.parse("bf16")).hasMessageContaining("accepted nf4, fp4, int4, int8");
    assertThatThrownBy(QuantFormat.F16::levels).isInstanceOf(UnsupportedOperationException.class);
  }

  /** Quantizing from a reader asks for one block at a time, in order, each element once. */
  @Test
  void streamingQuantizationReadsOneBlockAtATimeAndMatchesTheArrayPath() {
    INDArray w = gaussian(33, 70, 6); // 2310 elements: a partial last block
    float[] values = w.data().asFloat();
    List<long[]> reads = new ArrayList<>();
    QuantizedWeight.ElementReader reader = (start, len, out) -> {
      reads.add(new long[] {start, len});
      System.arraycopy(values, (int) start, out, 0, len);
    };
    QuantizedWeight streamed = QuantizedWeight.quantize(33, 70, reader, QuantFormat.NF4, 64, true);
    QuantizedWeight whole = QuantizedWeight.quantize(w, QuantFormat.NF4, 64, true);
    assertThat(streamed.codes()).isEqualTo(whole.codes());
    assertThat(streamed.absmaxCodes()).isEqualTo(whole.absmaxCodes());
    assertThat(streamed.absmaxScales()).isEqualTo(whole.absmaxScales());
    long next = 0;
    for (long[] r : reads) {
      assertThat(r[0]).isEqualTo(next);
      assertThat(r[1]).isLessThanOrEqualTo(64);
      next += r[1];
    }
    assertThat(next).isEqualTo(values.length);
    // a 16-bit weight quantized to NF4 through its element reader: the same as from its values
    QuantizedWeight half = QuantizedWeight.quantize(w, QuantFormat.BF16, 64, false);
    QuantizedWeight fromHalf = QuantizedWeight.quantize(33, 70, half::readElements, QuantFormat.NF4, 64, true);
    assertThat(fromHalf.codes()).isEqualTo(
        QuantizedWeight.quantize(half.dequantize(), QuantFormat.NF4, 64, true).codes());
  }

  private static double maxAbs(INDArray a) {
    return a.amaxNumber().doubleValue();
  }
}
