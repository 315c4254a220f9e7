package dev.loraj.core.io;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class HalfPrecisionTest {

  @Test
  void everyHalfWidensExactlyAndNarrowsBack() {
    for (int bits = 0; bits < 0x10000; bits++) {
      short h = (short) bits;
      float f = HalfPrecision.halfToFloat(h);
      if (Float.isNaN(f)) {
        assertThat(HalfPrecision.floatToHalf(f) & 0x7fff).as("NaN 0x%04x", bits)
            .isGreaterThan(0x7c00);
        assertThat(HalfPrecision.floatToHalf(f)).as("NaN payload 0x%04x", bits).isEqualTo(h);
      } else {
        assertThat(HalfPrecision.floatToHalf(f)).as("0x%04x -> %s", bits, f).isEqualTo(h);
      }
    }
  }

  @Test
  void halfKnownValues() {
    assertThat(HalfPrecision.halfToFloat((short) 0x3c00)).isEqualTo(1.0f);
    assertThat(HalfPrecision.halfToFloat((short) 0x7bff)).isEqualTo(65504f);
    assertThat(HalfPrecision.halfToFloat((short) 0x0001)).isEqualTo(0x1p-24f); // min subnormal
    assertThat(HalfPrecision.halfToFloat((short) 0x0400)).isEqualTo(0x1p-14f); // min normal
    assertThat(HalfPrecision.halfToFloat((short) 0xfc00)).isEqualTo(Float.NEGATIVE_INFINITY);
    assertThat(HalfPrecision.floatToHalf(-0.0f)).isEqualTo((short) 0x8000);
  }

  @Test
  void halfMidpointsRoundToEven() {
    // between consecutive finite halves h and h+1 the midpoint goes to the even one
    for (int bits = 0; bits < 0x7bff; bits++) {
      float lo = HalfPrecision.halfToFloat((short) bits);
      float hi = HalfPrecision.halfToFloat((short) (bits + 1));
      float mid = (float) (((double) lo + hi) / 2); // exact in float: 11 + 1 bits
      int even = (bits & 1) == 0 ? bits : bits + 1;
      assertThat(HalfPrecision.floatToHalf(mid) & 0xffff).as("mid of 0x%04x", bits)
          .isEqualTo(even);
      assertThat(HalfPrecision.floatToHalf(Math.nextUp(mid)) & 0xffff).isEqualTo(bits + 1);
      assertThat(HalfPrecision.floatToHalf(Math.nextDown(mid)) & 0xffff).isEqualTo(bits);
    }
  }

  @Test
  void halfOverflowAndUnderflow() {
    assertThat(HalfPrecision.floatToHalf(65519.99f)).isEqualTo((short) 0x7bff);
    assertThat(HalfPrecision.floatToHalf(65520f)).isEqualTo((short) 0x7c00); // tie to even: inf
    assertThat(HalfPrecision.floatToHalf(1e10f)).isEqualTo((short) 0x7c00);
    assertThat(HalfPrecision.floatToHalf(0x1p-25f)).isEqualTo((short) 0); // tie to even: 0
    assertThat(HalfPrecision.floatToHalf(Math.nextUp(0x1p-25f))).isEqualTo((short) 1);
    assertThat(HalfPrecision.floatToHalf(-1e-30f)).isEqualTo((short) 0x8000);
    assertThat(HalfPrecision.floatToHalf(Float.MIN_VALUE)).isEqualTo((short) 0);
  }

  @Test
  void everyBfloat16WidensExactlyAndNarrowsBack() {
    for (int bits = 0; bits < 0x10000; bits++) {
      float f = HalfPrecision.bfloat16ToFloat((short) bits);
      assertThat(Float.floatToRawIntBits(f)).isEqualTo(bits << 16);
      if (!Float.isNaN(f)) {
        assertThat(HalfPrecision.floatToBfloat16(f)).isEqualTo((short) bits);
      }
    }
  }

  @Test
  void bfloat16RoundsToNearestEven() {
    assertThat(HalfPrecision.floatToBfloat16(Float.intBitsToFloat(0x3f808000)))
        .isEqualTo((short) 0x3f80); // tie, even stays
    assertThat(HalfPrecision.floatToBfloat16(Float.intBitsToFloat(0x3f818000)))
        .isEqualTo((short) 0x3f82); // tie, odd rounds up
    assertThat(HalfPrecision.floatToBfloat16(Float.intBitsToFloat(0x3f808001)))
        .isEqualTo((short) 0x3f81);
    assertThat(HalfPrecision.floatToBfloat16(Float.MAX_VALUE)).isEqualTo((short) 0x7f80);
    assertThat(HalfPrecision.floatToBfloat16(Float.NaN)).isEqualTo((short) 0x7fc0);
    assertThat(HalfPrecision.floatToBfloat16(Float.intBitsToFloat(0xff800001)))
        .isEqualTo((short) 0xffc0);
  }
}
