package dev.loraj.core.io;

/**
 * Bit-level conversions between float32 and the two 16-bit float formats of safetensors files:
 * IEEE 754 binary16 ({@code F16}) and bfloat16 ({@code BF16}, the upper half of a float32).
 *
 * <p>Narrowing rounds to nearest, ties to even, like numpy's {@code astype(float16)} and
 * ml_dtypes' {@code bfloat16} (the golden files check both). NaN payloads: F16 keeps the top
 * ten payload bits and never turns a NaN into infinity (numpy's rule); BF16 returns the
 * canonical quiet NaN {@code 0x7fc0} with the input's sign (ml_dtypes and PyTorch ignore the
 * sign). Widening is exact. Java 17 has no {@code Float.floatToFloat16} (added in Java 20).
 */
public final class HalfPrecision {
  private HalfPrecision() {}

  /** binary16 bits to the float32 of the same value (exact). */
  public static float halfToFloat(short half) {
    int bits = half & 0xffff;
    int sign = (bits & 0x8000) << 16;
    int exponent = (bits >>> 10) & 0x1f;
    int mantissa = bits & 0x3ff;
    if (exponent == 0x1f) { // infinity or NaN: keep the payload
      return Float.intBitsToFloat(sign | 0x7f800000 | (mantissa << 13));
    }
    if (exponent == 0) { // zero or subnormal: mantissa * 2^-24
      float magnitude = mantissa * 0x1p-24f;
      return sign != 0 ? -magnitude : magnitude;
    }
    return Float.intBitsToFloat(sign | ((exponent + 127 - 15) << 23) | (mantissa << 13));
  }

  /** float32 to binary16 bits, round to nearest even; overflow gives infinity. */
  public static short floatToHalf(float value) {
    int x = Float.floatToRawIntBits(value);
    int sign = (x >>> 16) & 0x8000;
    int exponent = (x >>> 23) & 0xff;
    int mantissa = x & 0x7fffff;
    if (exponent == 0xff) {
      if (mantissa == 0) {
        return (short) (sign | 0x7c00);
      }
      int payload = mantissa >>> 13;
      return (short) (sign | 0x7c00 | (payload == 0 ? 1 : payload));
    }
    int e = exponent - 127 + 15; // biased binary16 exponent
    if (e >= 0x1f) {
      return (short) (sign | 0x7c00);
    }
    if (e <= 0) { // binary16 subnormal (or zero): value = m * 2^(exponent - 150) = k * 2^-24
      if (e < -10) {
        return (short) sign; // below half the smallest subnormal
      }
      int m = mantissa | 0x800000;
      int shift = 14 - e; // 14..24
      int k = m >>> shift;
      int rest = m & ((1 << shift) - 1);
      int halfway = 1 << (shift - 1);
      if (rest > halfway || (rest == halfway && (k & 1) == 1)) {
        k++; // may carry into the smallest normal, which is the right encoding
      }
      return (short) (sign | k);
    }
    int k = (e << 10) | (mantissa >>> 13);
    int rest = mantissa & 0x1fff;
    if (rest > 0x1000 || (rest == 0x1000 && (k & 1) == 1)) {
      k++; // a carry into exponent 0x1f gives infinity, as it should
    }
    return (short) (sign | k);
  }

  /** bfloat16 bits to float32 (exact). */
  public static float bfloat16ToFloat(short bf16) {
    return Float.intBitsToFloat((bf16 & 0xffff) << 16);
  }

  /** float32 to bfloat16 bits, round to nearest even. */
  public static short floatToBfloat16(float value) {
    int x = Float.floatToRawIntBits(value);
    if (Float.isNaN(value)) {
      return (short) (((x >>> 16) & 0x8000) | 0x7fc0);
    }
    int lsb = (x >>> 16) & 1;
    return (short) ((x + 0x7fff + lsb) >>> 16);
  }
}
