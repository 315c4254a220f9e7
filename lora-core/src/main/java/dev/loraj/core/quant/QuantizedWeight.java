package dev.loraj.core.quant;

import dev.loraj.core.engine.MemoryLedger;
import dev.loraj.core.io.HalfPrecision;
import java.util.Arrays;
import java.util.Objects;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.openblas.global.openblas_nolapack;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.shape.Shape;
import org.nd4j.linalg.factory.Nd4j;

/**
 * An immutable block-wise absmax quantized frozen weight W [out, in] (QLoRA arXiv 2305.14314,
 * section 3; bitsandbytes {@code quantize_4bit} / {@code dequantize_4bit}).
 *
 * <p><b>Layout.</b> W is flattened row-major (element {@code e = row * in + col}) and cut into
 * blocks of {@code blockSize} consecutive elements; the last block may be partial and blocks may
 * span rows. Block {@code b} stores its absmax {@code a_b = max |W_e|}; each element stores the
 * code of the level nearest to {@code W_e * (1 / a_b)} (float, as bitsandbytes' kernels
 * normalize; ties to the lower code index, see {@link QuantFormat}); an all-zero block stores
 * the zero level's code. Dequantization is {@code deq(W)_e = table[code_e] * a_b} in float. 4-bit codes are packed two per byte, the even
 * element in the high nibble; an odd element count leaves the last low nibble 0.
 *
 * <p><b>Double quantization</b> (QLoRA section 3, bitsandbytes {@code compress_statistics=True}):
 * codes are computed with the exact fp32 absmax; then {@code offset = mean(a)}, and
 * {@code a - offset} is quantized in blocks of {@value #DOUBLE_QUANT_BLOCK_SIZE} with the signed
 * dynamic 8-bit map ({@link DynamicMap}) and one fp32 scale per block, so dequantization uses
 * {@code a_b = dyn[c_b] * s_{b/256} + offset}. As in bitsandbytes the reconstructed absmax is not
 * clamped, so it carries the second-level rounding error (relative to the largest deviation
 * from the mean in its 256-block).
 *
 * <p><b>Storage.</b> {@link #storageBytes()} counts codes, first-level scales (fp32 each, or one
 * byte each plus fp32 second-level scales plus the fp32 offset); the format tables are shared
 * constants and not counted. NF4 with block 64: 4 + 32/64 = 4.5 bits per parameter; with double
 * quantization 4 + 8/64 + 32/(64*256) ~= 4.127 (plus 32 bits of offset per tensor).
 *
 * <p><b>16-bit formats.</b> With {@link QuantFormat#BF16} or {@link QuantFormat#F16} each element
 * is stored as its 16-bit float (round to nearest even; exact for values read from a checkpoint
 * of that dtype): 2 bytes a parameter, no blocks, no scales, counted by the memory ledger as
 * {@link MemoryLedger.Category#FROZEN} (a dense frozen weight in a narrower type). The matmuls
 * below upcast a chunk of rows at a time, so the frozen base of a bfloat16 checkpoint computes
 * in float32 without a float32 copy of any weight.
 *
 * <p><b>Matmuls.</b> {@link #matmulTransposed(INDArray)} ({@code x @ deq(W)^T}, the forward of a
 * linear layer) and {@link #matmul(INDArray)} ({@code dY @ deq(W)}, its input gradient)
 * dequantize a chunk of rows at a time into a reused buffer ({@link DequantBuffer}) and call
 * ND4J's gemm per chunk, so the float weight never exists whole (unless it fits in one chunk).
 * Instances are thread-safe; a {@link DequantBuffer} is not.
 */
public final class QuantizedWeight {
  /** QLoRA's and bitsandbytes' default block size for 4-bit weights. */
  public static final int DEFAULT_BLOCK_SIZE = 64;
  /** Second-level block size of double quantization (QLoRA section 3, bitsandbytes). */
  public static final int DOUBLE_QUANT_BLOCK_SIZE = 256;

  private final QuantFormat format;
  private final int rows;       // out
  private final int cols;       // in
  private final int blockSize;
  private final byte[] codes;
  private final float[] absmax;        // null when double quantized
  private final byte[] absmaxCodes;    // double quant: dynamic-map code per block
  private final float[] absmaxScales;  // double quant: fp32 scale per 256 blocks
  private final float absmaxOffset;    // double quant: mean of the fp32 absmax values
  private final float[] table;         // format levels, indexed by code (null for 16-bit)
  private final short[] halves;        // 16-bit formats: the elements' bits, row-major

  private QuantizedWeight(QuantFormat format, int rows, int cols, int blockSize, byte[] codes,
      float[] absmax, byte[] absmaxCodes, float[] absmaxScales, float absmaxOffset) {
    this.format = format;
    this.rows = rows;
    this.cols = cols;
    this.blockSize = blockSize;
    this.codes = codes;
    this.absmax = absmax;
    this.absmaxCodes = absmaxCodes;
    this.absmaxScales = absmaxScales;
    this.absmaxOffset = absmaxOffset;
    this.table = format.blockwise() ? format.levels() : null;
    this.halves = null;
  }

  private QuantizedWeight(QuantFormat format, int rows, int cols, short[] halves) {
    this.format = format;
    this.rows = rows;
    this.cols = cols;
    this.blockSize = cols;
    this.codes = null;
    this.absmax = null;
    this.absmaxCodes = null;
    this.absmaxScales = null;
    this.absmaxOffset = 0f;
    this.table = null;
    this.halves = halves;
  }

  /** Reads elements {@code [start, start + len)} of a row-major weight into {@code out[0, len)}. */
  @FunctionalInterface
  public interface ElementReader {
    void read(long start, int len, float[] out);
  }

  // ------------------------------------------------------------------------------------------
  // Construction

  /**
   * Quantizes {@code w} [out, in] (any floating type; read as float32).
   *
   * @throws IllegalArgumentException if {@code w} is not a 2-D floating array, has a NaN or
   *     infinite entry (named by its index), or {@code blockSize < 1}
   */
  public static QuantizedWeight quantize(INDArray w, QuantFormat format, int blockSize,
      boolean doubleQuant) {
    Objects.requireNonNull(w, "w");
    Objects.requireNonNull(format, "format");
    if (w.rank() != 2) {
      throw new IllegalArgumentException("w: expected a 2-D weight [out, in], got shape "
          + Arrays.toString(w.shape()));
    }
    if (!w.dataType().isFPType()) {
      throw new IllegalArgumentException("w: expected a floating-point array, got "
          + w.dataType());
    }
    if (blockSize < 1) {
      throw new IllegalArgumentException("blockSize: " + blockSize + ", expected >= 1");
    }
    int rows = Math.toIntExact(w.size(0));
    int cols = Math.toIntExact(w.size(1));
    checkCodeCapacity(format, (long) rows * cols);
    float[] data = toFloats(w);
    return quantize(rows, cols, (start, len, out) -> System.arraycopy(data, (int) start, out, 0, len),
        format, blockSize, doubleQuant);
  }

  /**
   * Quantizes a weight [rows, cols] whose elements {@code reader} supplies block by block (from
   * a memory-mapped checkpoint, say), so no float copy of the whole weight is ever made: the
   * result is bit-identical to quantizing the same values held in an array. For the 16-bit
   * formats {@code blockSize} and {@code doubleQuant} are ignored.
   *
   * @throws IllegalArgumentException if a block-wise format meets a NaN or infinite element, or
   *     {@code rows}, {@code cols} or {@code blockSize} is below 1
   */
  public static QuantizedWeight quantize(int rows, int cols, ElementReader reader,
      QuantFormat format, int blockSize, boolean doubleQuant) {
    Objects.requireNonNull(reader, "reader");
    Objects.requireNonNull(format, "format");
    if (rows < 1 || cols < 1) {
      throw new IllegalArgumentException("shape: [" + rows + ", " + cols + "], expected positive");
    }
    if (blockSize < 1) {
      throw new IllegalArgumentException("blockSize: " + blockSize + ", expected >= 1");
    }
    long n = (long) rows * cols;
    checkCodeCapacity(format, n);
    if (!format.blockwise()) {
      return roundTo16(rows, cols, reader, format);
    }
    int blocks = Math.toIntExact(ceilDiv(n, blockSize));
    float[] amax = new float[blocks];
    byte[] codes = new byte[codeBytes(format, n)];
    Codebook cb = format.codebook();
    boolean packed = format.bits() == 4;
    float[] data = new float[blockSize];
    for (int b = 0; b < blocks; b++) {
      int start = b * blockSize;
      int end = (int) Math.min((long) start + blockSize, n);
      reader.read(start, end - start, data);
      float a = 0f;
      for (int e = start; e < end; e++) {
        float v = data[e - start];
        if (!Float.isFinite(v)) {
          throw new IllegalArgumentException("w[" + (e / cols) + ", " + (e % cols) + "] = " + v
              + ": quantization accepts only finite weights");
        }
        a = Math.max(a, Math.abs(v));
      }
      amax[b] = a;
      float inv = 1f / a;  // bitsandbytes multiplies by the reciprocal of the absmax
      for (int e = start; e < end; e++) {
        int c = a == 0f ? cb.zeroCode() : cb.nearest(data[e - start] * inv);
        if (packed) {
          codes[e >> 1] |= (byte) ((e & 1) == 0 ? c << 4 : c);
        } else {
          codes[e] = (byte) c;
        }
      }
    }
    if (!doubleQuant) {
      return new QuantizedWeight(format, rows, cols, blockSize, codes, amax, null, null, 0f);
    }
    return doubleQuantize(format, rows, cols, blockSize, codes, amax);
  }

  /** Rounds every element to the 16-bit {@code format}, a chunk at a time. */
  private static QuantizedWeight roundTo16(int rows, int cols, ElementReader reader,
      QuantFormat format) {
    int n = rows * cols; // checkCodeCapacity bounds it
    short[] bits = new short[n];
    float[] chunk = new float[Math.min(n, HALF_CHUNK)];
    boolean bf16 = format == QuantFormat.BF16;
    for (int start = 0; start < n; start += chunk.length) {
      int len = Math.min(chunk.length, n - start);
      reader.read(start, len, chunk);
      for (int i = 0; i < len; i++) {
        bits[start + i] = bf16 ? HalfPrecision.floatToBfloat16(chunk[i])
            : HalfPrecision.floatToHalf(chunk[i]);
      }
    }
    return new QuantizedWeight(format, rows, cols, bits);
  }

  private static final int HALF_CHUNK = 1 << 16;

  /**
   * A 16-bit weight [out, in] from the raw bits of its elements, row-major ({@code bits} is
   * read from its position to its limit and copied): a bfloat16 or float16 tensor of a
   * checkpoint, kept bit for bit.
   *
   * @throws IllegalArgumentException if {@code format} is not BF16 or F16, or the element count
   *     is not out * in
   */
  public static QuantizedWeight ofHalves(QuantFormat format, int out, int in,
      java.nio.ShortBuffer bits) {
    Objects.requireNonNull(format, "format");
    Objects.requireNonNull(bits, "bits");
    if (format.blockwise()) {
      throw new IllegalArgumentException("format: " + format.json() + ", expected bf16 or f16");
    }
    if (out < 1 || in < 1) {
      throw new IllegalArgumentException("shape: [" + out + ", " + in + "], expected positive");
    }
    long n = (long) out * in;
    checkCodeCapacity(format, n);
    if (bits.remaining() != n) {
      throw new IllegalArgumentException("bits: " + bits.remaining() + " elements, expected "
          + n + " (" + out + " x " + in + ")");
    }
    short[] copy = new short[(int) n];
    bits.duplicate().get(copy);
    return new QuantizedWeight(format, out, in, copy);
  }

  /** Same as {@link #quantize(INDArray, QuantFormat, int, boolean)} with block size 64. */
  public static QuantizedWeight quantize(INDArray w, QuantFormat format, boolean doubleQuant) {
    return quantize(w, format, DEFAULT_BLOCK_SIZE, doubleQuant);
  }

  /** Rebuilds a weight stored without double quantization (e.g. read from a checkpoint). */
  public static QuantizedWeight of(QuantFormat format, int out, int in, int blockSize,
      byte[] codes, float[] absmax) {
    validateParts(format, out, in, blockSize, codes);
    int blocks = Math.toIntExact(ceilDiv((long) out * in, blockSize));
    requireLength("absmax", absmax, blocks);
    for (int b = 0; b < blocks; b++) {
      if (!Float.isFinite(absmax[b])) {
        throw new IllegalArgumentException("absmax[" + b + "] = " + absmax[b]
            + ": expected finite values");
      }
    }
    return new QuantizedWeight(format, out, in, blockSize, codes.clone(), absmax.clone(), null,
        null, 0f);
  }

  /** Rebuilds a double-quantized weight (e.g. read from a checkpoint). */
  public static QuantizedWeight ofDoubleQuantized(QuantFormat format, int out, int in,
      int blockSize, byte[] codes, byte[] absmaxCodes, float[] absmaxScales, float absmaxOffset) {
    validateParts(format, out, in, blockSize, codes);
    int blocks = Math.toIntExact(ceilDiv((long) out * in, blockSize));
    Objects.requireNonNull(absmaxCodes, "absmaxCodes");
    if (absmaxCodes.length != blocks) {
      throw new IllegalArgumentException("absmaxCodes.length: " + absmaxCodes.length
          + ", expected " + blocks + " (one per block)");
    }
    requireLength("absmaxScales", absmaxScales, (int) ceilDiv(blocks, DOUBLE_QUANT_BLOCK_SIZE));
    if (!Float.isFinite(absmaxOffset)) {
      throw new IllegalArgumentException("absmaxOffset: " + absmaxOffset + ", expected finite");
    }
    return new QuantizedWeight(format, out, in, blockSize, codes.clone(), null,
        absmaxCodes.clone(), absmaxScales.clone(), absmaxOffset);
  }

  private static QuantizedWeight doubleQuantize(QuantFormat format, int rows, int cols,
      int blockSize, byte[] codes, float[] amax) {
    int blocks = amax.length;
    double sum = 0;
    for (float a : amax) {
      sum += a;
    }
    float offset = (float) (sum / blocks);
    Codebook dyn = DynamicMap.CODEBOOK;
    int groups = (int) ceilDiv(blocks, DOUBLE_QUANT_BLOCK_SIZE);
    float[] scales = new float[groups];
    byte[] qcodes = new byte[blocks];
    for (int g = 0; g < groups; g++) {
      int start = g * DOUBLE_QUANT_BLOCK_SIZE;
      int end = Math.min(start + DOUBLE_QUANT_BLOCK_SIZE, blocks);
      float s = 0f;
      for (int b = start; b < end; b++) {
        s = Math.max(s, Math.abs(amax[b] - offset));
      }
      scales[g] = s;
      float inv = 1f / s;
      for (int b = start; b < end; b++) {
        qcodes[b] = (byte) (s == 0f ? dyn.zeroCode() : dyn.nearest((amax[b] - offset) * inv));
      }
    }
    return new QuantizedWeight(format, rows, cols, blockSize, codes, null, qcodes, scales,
        offset);
  }

  // ------------------------------------------------------------------------------------------
  // Dequantization

  /** The whole float weight [out, in] (materialized: for large weights prefer the matmuls). */
  public INDArray dequantize() {
    float[] out = new float[Math.toIntExact((long) rows * cols)];
    dequantizeRows(0, rows, out);
    return Nd4j.create(out, new long[] {rows, cols}, DataType.FLOAT);
  }

  /**
   * Writes rows {@code row0 .. row0 + rows - 1} of deq(W), row-major, into
   * {@code out[0 .. rows * in)}; the caller's buffer is reused, nothing is allocated.
   */
  public void dequantizeRows(int row0, int rowCount, float[] out) {
    if (row0 < 0 || rowCount < 0 || (long) row0 + rowCount > rows) {
      throw new IndexOutOfBoundsException("rows [" + row0 + ", " + ((long) row0 + rowCount)
          + ") outside [0, " + rows + ")");
    }
    long len = (long) rowCount * cols;
    if (out.length < len) {
      throw new IllegalArgumentException("out.length: " + out.length + ", need at least "
          + len + " (" + rowCount + " rows x " + cols + ")");
    }
    dequantizeFlat((long) row0 * cols, (int) len, out);
  }

  private void dequantizeFlat(long start, int len, float[] out) {
    if (halves != null) {
      int s = (int) start;
      if (format == QuantFormat.BF16) {
        for (int i = 0; i < len; i++) {
          out[i] = Float.intBitsToFloat((halves[s + i] & 0xffff) << 16); // exact widening
        }
      } else {
        for (int i = 0; i < len; i++) {
          out[i] = HalfPrecision.halfToFloat(halves[s + i]);
        }
      }
      return;
    }
    long end = start + len;
    float[] scaled = new float[16];
    long e = start;
    int o = 0;
    while (e < end) {
      int b = (int) (e / blockSize);
      long blockEnd = Math.min((long) (b + 1) * blockSize, end);
      float a = blockAbsmax(b);
      if (format.bits() == 4) {
        for (int k = 0; k < 16; k++) {
          scaled[k] = table[k] * a;
        }
        if ((e & 1) != 0 && e < blockEnd) {
          out[o++] = scaled[codes[(int) (e >> 1)] & 0x0F];
          e++;
        }
        int pairs = (int) ((blockEnd - e) >> 1);
        int p = (int) (e >> 1);
        for (int i = 0; i < pairs; i++) {
          int v = codes[p + i];
          out[o] = scaled[(v >> 4) & 0x0F];
          out[o + 1] = scaled[v & 0x0F];
          o += 2;
        }
        e += 2L * pairs;
        if (e < blockEnd) {
          out[o++] = scaled[(codes[(int) (e >> 1)] >> 4) & 0x0F];
          e++;
        }
      } else {
        for (int i = (int) e; i < blockEnd; i++) {
          out[o++] = table[codes[i] & 0xFF] * a;
        }
        e = blockEnd;
      }
    }
  }

  /**
   * Elements {@code [start, start + len)} of deq(W), flat row-major indices, into
   * {@code out[0, len)}: a {@link ElementReader} over this weight (to quantize it to another
   * format without a float copy of the whole).
   */
  public void readElements(long start, int len, float[] out) {
    long n = (long) rows * cols;
    if (start < 0 || len < 0 || start + len > n || out.length < len) {
      throw new IndexOutOfBoundsException("elements [" + start + ", " + (start + len)
          + ") outside [0, " + n + ") or longer than out (" + out.length + ")");
    }
    dequantizeFlat(start, len, out);
  }

  /** The absmax that dequantization uses for block {@code b} (after double quantization). */
  public float blockAbsmax(int b) {
    requireBlockwise("blockAbsmax");
    if (absmax != null) {
      return absmax[b];
    }
    return DynamicMap.CODEBOOK.value(absmaxCodes[b] & 0xFF) * absmaxScales[b
        / DOUBLE_QUANT_BLOCK_SIZE] + absmaxOffset;
  }

  // ------------------------------------------------------------------------------------------
  // Fused matmuls

  /** {@code x @ deq(W)^T}: [n, in] x [in, out] -> [n, out], with a buffer of its own. */
  public INDArray matmulTransposed(INDArray x) {
    try (DequantBuffer buf = DequantBuffer.forWeight(this)) {
      return matmulTransposed(x, buf);
    }
  }

  /**
   * {@code x @ deq(W)^T}: [n, in] x [in, out] -> [n, out] (float32), dequantizing
   * {@code buf.chunkRows()} rows of W at a time into {@code buf}.
   */
  public INDArray matmulTransposed(INDArray x, DequantBuffer buf) {
    INDArray y = Nd4j.createUninitialized(DataType.FLOAT, new long[] {x.size(0), rows}, 'c');
    matmulTransposedInto(x, buf, y);
    return y;
  }

  /**
   * {@code y = x @ deq(W)^T} written into {@code y} [n, out] (float32, c order, no offset): each
   * chunk of W's rows gives a column block of y, which sgemm writes in place with leading
   * dimension out, so no result array of its own exists.
   */
  public void matmulTransposedInto(INDArray x, DequantBuffer buf, INDArray y) {
    requireMatrix("x", x, cols, "in");
    buf.checkFits(this);
    INDArray xf = plain(x);
    long n = xf.size(0);
    requireOutput("y", y, n, rows);
    FloatPointer px = new FloatPointer(xf.data().addressPointer());
    FloatPointer py = new FloatPointer(y.data().addressPointer());
    int chunk = buf.chunkRows();
    for (int r0 = 0; r0 < rows; r0 += chunk) {
      int r = Math.min(chunk, rows - r0);
      INDArray w = buf.load(this, r0, r);                            // [r, in], c order
      FloatPointer pw = new FloatPointer(w.data().addressPointer());
      py.position(r0);
      // y[:, r0:r0+r] = x [n, in] x w^T [in, r]
      openblas_nolapack.cblas_sgemm(ROW_MAJOR, NO_TRANS, TRANS, (int) n, r, cols, 1f, px, cols, pw, cols,
          0f, py, rows);
    }
    if (xf != x) {
      xf.close();
    }
  }

  /** {@code dY @ deq(W)}: [n, out] x [out, in] -> [n, in], with a buffer of its own. */
  public INDArray matmul(INDArray dy) {
    try (DequantBuffer buf = DequantBuffer.forWeight(this)) {
      return matmul(dy, buf);
    }
  }

  /**
   * {@code dY @ deq(W)}: [n, out] x [out, in] -> [n, in] (float32), the input gradient of
   * {@code y = x @ deq(W)^T}; accumulates one chunk of W's rows at a time.
   */
  public INDArray matmul(INDArray dy, DequantBuffer buf) {
    INDArray dx = Nd4j.createUninitialized(DataType.FLOAT, new long[] {dy.size(0), cols}, 'c');
    matmulInto(dy, buf, dx);
    return dx;
  }

  /**
   * {@code dx = dY @ deq(W)} written into {@code dx} [n, in] (float32, c order, no offset): the
   * column block of dY that meets each chunk of W's rows is read in place (leading dimension out).
   */
  public void matmulInto(INDArray dy, DequantBuffer buf, INDArray dx) {
    requireMatrix("dy", dy, rows, "out");
    buf.checkFits(this);
    INDArray df = plain(dy);
    long n = df.size(0);
    requireOutput("dx", dx, n, cols);
    FloatPointer pd = new FloatPointer(df.data().addressPointer());
    FloatPointer px = new FloatPointer(dx.data().addressPointer());
    int chunk = buf.chunkRows();
    for (int r0 = 0; r0 < rows; r0 += chunk) {
      int r = Math.min(chunk, rows - r0);
      INDArray w = buf.load(this, r0, r);                             // [r, in], c order
      FloatPointer pw = new FloatPointer(w.data().addressPointer());
      pd.position(r0);
      // dx (+)= dY[:, r0:r0+r] [n, r] x w [r, in]
      openblas_nolapack.cblas_sgemm(ROW_MAJOR, NO_TRANS, NO_TRANS, (int) n, cols, r, 1f, pd, rows, pw, cols,
          r0 == 0 ? 0f : 1f, px, cols);
    }
    if (df != dy) {
      df.close();
    }
  }

  private static final int ROW_MAJOR = 101;
  private static final int NO_TRANS = 111;
  private static final int TRANS = 112;

  /** {@code a} as float32 in c order without offset (itself if it is already). */
  private static INDArray plain(INDArray a) {
    boolean ok = a.dataType() == DataType.FLOAT && a.ordering() == 'c' && a.offset() == 0
        && Shape.hasDefaultStridesForShape(a);
    return ok ? a : a.castTo(DataType.FLOAT).dup('c');
  }

  private static void requireOutput(String name, INDArray out, long n, long width) {
    if (out.dataType() != DataType.FLOAT || out.ordering() != 'c' || out.offset() != 0
        || !Shape.hasDefaultStridesForShape(out) || out.rank() != 2 || out.size(0) != n || out.size(1) != width) {
      throw new IllegalArgumentException(name + ": expected a float32 c-order [" + n + ", " + width
          + "] array without offset, got " + out.dataType() + " " + out.ordering() + " "
          + Arrays.toString(out.shape()));
    }
  }

  // ------------------------------------------------------------------------------------------
  // Accessors

  public QuantFormat format() {
    return format;
  }

  /** {@code [out, in]}. */
  public long[] shape() {
    return new long[] {rows, cols};
  }

  public int rows() {
    return rows;
  }

  public int cols() {
    return cols;
  }

  public int blockSize() {
    return blockSize;
  }

  public int blockCount() {
    return (int) ceilDiv((long) rows * cols, blockSize);
  }

  public boolean doubleQuantized() {
    return absmaxCodes != null;
  }

  /**
   * A copy of the packed codes (4-bit: two per byte, first element in the high nibble); for the
   * 16-bit formats, the elements' bits as little-endian byte pairs (the safetensors layout).
   */
  public byte[] codes() {
    if (halves != null) {
      byte[] out = new byte[2 * halves.length];
      for (int i = 0; i < halves.length; i++) {
        out[2 * i] = (byte) halves[i];
        out[2 * i + 1] = (byte) (halves[i] >>> 8);
      }
      return out;
    }
    return codes.clone();
  }

  /** A copy of the fp32 absmax per block; only without double quantization. */
  public float[] absmax() {
    requireBlockwise("absmax");
    requireDoubleQuant(false, "absmax");
    return absmax.clone();
  }

  /** A copy of the 8-bit dynamic-map code of each block's absmax; double quantization only. */
  public byte[] absmaxCodes() {
    requireDoubleQuant(true, "absmaxCodes");
    return absmaxCodes.clone();
  }

  /** A copy of the fp32 second-level scales, one per 256 blocks; double quantization only. */
  public float[] absmaxScales() {
    requireDoubleQuant(true, "absmaxScales");
    return absmaxScales.clone();
  }

  /** The mean of the fp32 absmax values subtracted before double quantization. */
  public float absmaxOffset() {
    requireDoubleQuant(true, "absmaxOffset");
    return absmaxOffset;
  }

  /**
   * {@link #storageBytes()} of a weight [rows, cols] quantized with these settings, without
   * quantizing one (the memory estimate uses it).
   */
  public static long storageBytes(QuantFormat format, long rows, long cols, int blockSize,
      boolean doubleQuant) {
    long n = rows * cols;
    if (!format.blockwise()) {
      return 2 * n;
    }
    long blocks = ceilDiv(n, blockSize);
    long codes = format.bits() == 4 ? ceilDiv(n, 2) : n;
    return codes + (doubleQuant
        ? blocks + 4L * ceilDiv(blocks, DOUBLE_QUANT_BLOCK_SIZE) + 4L
        : 4L * blocks);
  }

  /**
   * Adds the arrays this weight holds (codes, scales, double-quantization state; on the Java
   * heap) to {@code ledger} as {@link MemoryLedger.Category#QUANTIZED}; a 16-bit weight's
   * elements as {@link MemoryLedger.Category#FROZEN}.
   */
  public void addTo(MemoryLedger ledger) {
    if (halves != null) { // a dense frozen weight in a 16-bit type
      ledger.addHeap(MemoryLedger.Category.FROZEN, halves, 2L * halves.length);
      return;
    }
    MemoryLedger.Category q = MemoryLedger.Category.QUANTIZED;
    ledger.addHeap(q, codes, codes.length);
    if (absmax != null) {
      ledger.addHeap(q, absmax, 4L * absmax.length);
    } else {
      ledger.addHeap(q, absmaxCodes, absmaxCodes.length);
      ledger.addHeap(q, absmaxScales, 4L * absmaxScales.length + 4L); // + the offset
    }
  }

  /** Bytes of codes + first-level scales + second-level scales and offset. */
  public long storageBytes() {
    if (halves != null) {
      return 2L * halves.length;
    }
    long bytes = codes.length;
    if (absmax != null) {
      bytes += 4L * absmax.length;
    } else {
      bytes += absmaxCodes.length + 4L * absmaxScales.length + 4L;
    }
    return bytes;
  }

  /** {@code 8 * storageBytes() / (out * in)}. */
  public double bitsPerParameter() {
    return 8.0 * storageBytes() / ((double) rows * cols);
  }

  @Override
  public String toString() {
    if (halves != null) {
      return "QuantizedWeight[" + format + ", [" + rows + ", " + cols + "], 16 bits/param]";
    }
    return "QuantizedWeight[" + format + ", [" + rows + ", " + cols + "], block " + blockSize
        + (absmax == null ? ", double-quantized" : "") + ", "
        + String.format(java.util.Locale.ROOT, "%.4f", bitsPerParameter()) + " bits/param]";
  }

  // ------------------------------------------------------------------------------------------
  // Helpers

  private void requireDoubleQuant(boolean wanted, String field) {
    if (wanted != doubleQuantized()) {
      throw new IllegalStateException(field + ": this weight is "
          + (doubleQuantized() ? "" : "not ") + "double-quantized");
    }
  }

  private void requireBlockwise(String field) {
    if (halves != null) {
      throw new IllegalStateException(field + ": this weight stores " + format.json()
          + " elements, without blocks or scales");
    }
  }

  private static void requireMatrix(String name, INDArray a, int cols, String dim) {
    Objects.requireNonNull(a, name);
    if (a.rank() != 2 || a.size(1) != cols) {
      throw new IllegalArgumentException(name + ": expected shape [n, " + cols + "] (" + dim
          + " = " + cols + "), got " + Arrays.toString(a.shape()));
    }
    if (!a.dataType().isFPType()) {
      throw new IllegalArgumentException(name + ": expected a floating-point array, got "
          + a.dataType());
    }
  }

  private static float[] toFloats(INDArray w) {
    INDArray f = w.dataType() == DataType.FLOAT ? w : w.castTo(DataType.FLOAT);
    if (f.isView() || f.ordering() != 'c' || f.data().length() != f.length()) {
      f = f.dup('c');
    }
    return f.data().asFloat();
  }

  private static void validateParts(QuantFormat format, int out, int in, int blockSize,
      byte[] codes) {
    Objects.requireNonNull(format, "format");
    if (out < 1 || in < 1) {
      throw new IllegalArgumentException("shape: [" + out + ", " + in + "], expected positive");
    }
    if (blockSize < 1) {
      throw new IllegalArgumentException("blockSize: " + blockSize + ", expected >= 1");
    }
    long n = (long) out * in;
    checkCodeCapacity(format, n);
    Objects.requireNonNull(codes, "codes");
    if (codes.length != codeBytes(format, n)) {
      throw new IllegalArgumentException("codes.length: " + codes.length + ", expected "
          + codeBytes(format, n) + " for " + n + " " + format.bits() + "-bit codes");
    }
  }

  private static void requireLength(String name, float[] a, int expected) {
    Objects.requireNonNull(a, name);
    if (a.length != expected) {
      throw new IllegalArgumentException(name + ".length: " + a.length + ", expected "
          + expected);
    }
  }

  private static void checkCodeCapacity(QuantFormat format, long n) {
    long bytes = format.bits() == 4 ? (n + 1) / 2 : n; // 16-bit formats: n shorts
    if (bytes > Integer.MAX_VALUE - 8 || n > Integer.MAX_VALUE - 8) {
      throw new IllegalArgumentException("weight with " + n
          + " elements is too large: at most " + (Integer.MAX_VALUE - 8) + " supported");
    }
  }

  private static int codeBytes(QuantFormat format, long n) {
    return (int) (format.bits() == 4 ? (n + 1) / 2 : n);
  }

  private static long ceilDiv(long a, long b) {
    return (a + b - 1) / b;
  }
}
