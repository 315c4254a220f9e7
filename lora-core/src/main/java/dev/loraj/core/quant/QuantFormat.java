package dev.loraj.core.quant;

/**
 * Element formats for block-wise absmax quantization of frozen weights (QLoRA arXiv 2305.14314,
 * section 3; bitsandbytes {@code functional.py}). Each block of {@code blockSize} consecutive
 * elements of the flattened row-major weight is divided by its absmax, rounded to the nearest
 * level of the format's table (ties to the lower code index) and stored as that level's code;
 * dequantization is {@code table[code] * absmax}.
 *
 * <ul>
 *   <li>{@link #NF4}: 4-bit NormalFloat, the 16 values of bitsandbytes {@code get_4bit_type("nf4")}
 *       exactly as in docs/variants.md (QLoRA), index 0..15 ascending from -1 to 1 (index 7 = 0).</li>
 *   <li>{@link #FP4}: bitsandbytes' 4-bit float ({@code get_4bit_type("fp4")}, "can also be created
 *       with create_fp8_map(signed=True, exponent_bits=2, precision_bits=1, total_bits=4)"): bit 3
 *       is the sign, bits 2..0 map to the raw magnitudes
 *       {@code 000=0, 001=0.0625, 010=8, 011=12, 100=4, 101=6, 110=2, 111=3}, and the table is
 *       divided by its absmax 12 (float32 division), giving
 *       {@code 0, 1/192, 2/3, 1, 1/3, 1/2, 1/6, 1/4} for codes 0..7 and their negatives for 8..15
 *       (code 8 is -0 and is never emitted: ties to the lower index pick code 0). This is not the
 *       OCP MX E2M1 grid (0, 0.5, 1, 1.5, 2, 3, 4, 6); it is the one bitsandbytes' QLoRA "fp4"
 *       option uses. bitsandbytes' kernel takes the sign bit from the input, so a small
 *       negative value becomes its code 8 (-0) where this one stores code 0, and exact ties
 *       between levels of equal sign may be broken the other way (toward the smaller
 *       magnitude); dequantized values agree except for the sign of zero.</li>
 *   <li>{@link #INT4}: symmetric integer levels q = -7..7, value q/7 (a choice: bitsandbytes has
 *       no INT4 quantizer); the code is q's 4-bit two's complement, nibble 8 (-8) is never
 *       emitted.</li>
 *   <li>{@link #INT8}: symmetric levels q = -127..127, value q/127, the code is q as a signed
 *       byte; -128 is never emitted.</li>
 * </ul>
 *
 * <p>4-bit codes are packed two per byte, the element with the lower flat index in the HIGH
 * nibble (bitsandbytes' layout).
 *
 * <p>Two further formats are not block-wise at all: {@link #BF16} and {@link #F16} store each
 * element as its 16-bit float (round to nearest even), with no blocks and no scales. They are
 * how a frozen base keeps a bfloat16 or float16 checkpoint's weights at 2 bytes a parameter
 * while computing in float32: the same chunked matmuls upcast a block of rows at a time. They
 * have no level table and are not accepted as a quantization setting ({@link #parse}).
 */
public enum QuantFormat {
  NF4(4, nf4Table(), allUsable(16)),
  FP4(4, fp4Table(), fp4Usable()),
  INT4(4, intTable(4), intUsable(4)),
  INT8(8, intTable(8), intUsable(8)),
  /** bfloat16 elements (the upper half of a float32), no blocks. */
  BF16(16, null, null),
  /** IEEE 754 binary16 elements, no blocks. */
  F16(16, null, null);

  private final int bits;
  private final Codebook codebook;

  QuantFormat(int bits, float[] table, boolean[] usable) {
    this.bits = bits;
    this.codebook = table == null ? null : new Codebook(table, usable);
  }

  /** Whether this is a block-wise absmax format with a level table (not BF16 or F16). */
  public boolean blockwise() {
    return codebook != null;
  }

  /** The name in config files: {@code nf4}, {@code fp4}, {@code int4}, {@code int8}. */
  @com.fasterxml.jackson.annotation.JsonValue
  public String json() {
    return name().toLowerCase(java.util.Locale.ROOT);
  }

  /** Reads a config name, case-insensitively; the error lists the accepted names. */
  @com.fasterxml.jackson.annotation.JsonCreator
  public static QuantFormat parse(String s) {
    for (QuantFormat f : values()) {
      if (f.blockwise() && f.json().equalsIgnoreCase(s)) {
        return f;
      }
    }
    throw new IllegalArgumentException("format = '" + s + "': accepted nf4, fp4, int4, int8");
  }

  /** Bits per stored code: 4 (two codes per byte), 8, or 16 for {@link #BF16} and {@link #F16}. */
  public int bits() {
    return bits;
  }

  /**
   * A copy of the level table, indexed by code (16 or 256 entries).
   *
   * @throws UnsupportedOperationException for {@link #BF16} and {@link #F16}, which have none
   */
  public float[] levels() {
    if (codebook == null) {
      throw new UnsupportedOperationException("format " + json() + " stores 16-bit floats and has"
          + " no level table");
    }
    return codebook.values();
  }

  Codebook codebook() {
    return codebook;
  }

  /** Constant tables (a holder class: enum constants initialize before the enum's statics). */
  static final class Tables {
    /** NF4 levels, index 0..15 (bitsandbytes {@code get_4bit_type("nf4")}; QLoRA, arXiv 2305.14314). */
    static final float[] NF4_VALUES = {
        -1.0f, -0.6961928009986877f, -0.5250730514526367f, -0.39491748809814453f,
        -0.28444138169288635f, -0.18477343022823334f, -0.09105003625154495f, 0.0f,
        0.07958029955625534f, 0.16093020141124725f, 0.24611230194568634f, 0.33791524171829224f,
        0.44070982933044434f, 0.5626170039176941f, 0.7229568362236023f, 1.0f};

    /** FP4 raw magnitudes before normalization (bitsandbytes {@code get_4bit_type("fp4")}). */
    static final float[] FP4_RAW = {
        0f, 0.0625f, 8f, 12f, 4f, 6f, 2f, 3f, -0f, -0.0625f, -8f, -12f, -4f, -6f, -2f, -3f};

    private Tables() {
    }
  }

  private static float[] nf4Table() {
    return Tables.NF4_VALUES.clone();
  }

  private static float[] fp4Table() {
    float[] t = new float[16];
    for (int i = 0; i < 16; i++) {
      t[i] = Tables.FP4_RAW[i] / 12f; // bitsandbytes: data /= data.abs().max(), in float32
    }
    return t;
  }

  private static boolean[] fp4Usable() {
    boolean[] u = allUsable(16);
    u[8] = false; // -0: same value as code 0, which wins the tie anyway
    return u;
  }

  /** Two's complement levels: code c holds q = (signed) c, value q / (2^(bits-1) - 1). */
  private static float[] intTable(int bits) {
    int n = 1 << bits;
    float qmax = (n >> 1) - 1;
    float[] t = new float[n];
    for (int c = 0; c < n; c++) {
      int q = c >= (n >> 1) ? c - n : c;
      t[c] = q / qmax;
    }
    return t;
  }

  private static boolean[] intUsable(int bits) {
    int n = 1 << bits;
    boolean[] u = allUsable(n);
    u[n >> 1] = false; // -2^(bits-1): outside the symmetric range
    return u;
  }

  private static boolean[] allUsable(int n) {
    boolean[] u = new boolean[n];
    java.util.Arrays.fill(u, true);
    return u;
  }
}
