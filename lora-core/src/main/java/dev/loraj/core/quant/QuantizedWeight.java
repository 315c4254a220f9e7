package dev.loraj.core.quant;

import dev.loraj.core.engine.MemoryLedger;
import java.util.Arrays;
import java.util.Objects;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
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
 * the zero level's code. Dequantization is {@code deq(W)_e = table[code_e] * a_b} in float.
 * 4-bit codes are packed two per byte, the even element in the high nibble; an odd element count
 * leaves the last low nibble 0.
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
  private final NativeBytes codes;     // block-wise formats (native memory)
  private final float[] absmax;        // null when double quantized
  private final DoubleQuantizedAbsmax dq; // null unless double quantized
  private final float[] table;         // format levels, indexed by code (null for 16-bit)
  private final HalfCodec.Elements halves; // 16-bit formats: the elements' bits, row-major

  private QuantizedWeight(QuantFormat format, int rows, int cols, int blockSize, NativeBytes codes,
      float[] absmax, DoubleQuantizedAbsmax dq) {
    this.format = format;
    this.rows = rows;
    this.cols = cols;
    this.blockSize = blockSize;
    this.codes = codes;
    this.absmax = absmax;
    this.dq = dq;
    this.table = format.blockwise() ? format.levels() : null;
    this.halves = null;
  }

  private QuantizedWeight(QuantFormat format, int rows, int cols, HalfCodec.Elements halves) {
    this.format = format;
    this.rows = rows;
    this.cols = cols;
    this.blockSize = cols;
    this.codes = null;
    this.absmax = null;
    this.dq = null;
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
    BlockwiseCodec.checkCapacity(format, (long) rows * cols);
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
    BlockwiseCodec.checkCapacity(format, n);
    if (!format.blockwise()) {
      return new QuantizedWeight(format, rows, cols, HalfCodec.encode((int) n, reader, format));
    }
    BlockwiseCodec.Encoded enc = BlockwiseCodec.encode(cols, n, reader, format, blockSize);
    return new QuantizedWeight(format, rows, cols, blockSize, enc.codes(),
        doubleQuant ? null : enc.absmax(), doubleQuant ? DoubleQuantizedAbsmax.quantize(enc.absmax()) : null);
  }

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
    BlockwiseCodec.checkCapacity(format, n);
    if (bits.remaining() != n) {
      throw new IllegalArgumentException("bits: " + bits.remaining() + " elements, expected "
          + n + " (" + out + " x " + in + ")");
    }
    return new QuantizedWeight(format, out, in, HalfCodec.Elements.copyOf(bits));
  }

  /** Same as {@link #quantize(INDArray, QuantFormat, int, boolean)} with block size 64. */
  public static QuantizedWeight quantize(INDArray w, QuantFormat format, boolean doubleQuant) {
    return quantize(w, format, DEFAULT_BLOCK_SIZE, doubleQuant);
  }

  /** Rebuilds a weight stored without double quantization (e.g. read from a checkpoint). */
  public static QuantizedWeight of(QuantFormat format, int out, int in, int blockSize,
      byte[] codes, float[] absmax) {
    BlockwiseCodec.checkParts(format, out, in, blockSize, codes);
    int blocks = Math.toIntExact(ceilDiv((long) out * in, blockSize));
    BlockwiseCodec.requireLength("absmax", absmax, blocks);
    for (int b = 0; b < blocks; b++) {
      if (!Float.isFinite(absmax[b])) {
        throw new IllegalArgumentException("absmax[" + b + "] = " + absmax[b]
            + ": expected finite values");
      }
    }
    return new QuantizedWeight(format, out, in, blockSize, NativeBytes.copyOf(codes), absmax.clone(), null);
  }

  /** Rebuilds a double-quantized weight (e.g. read from a checkpoint). */
  public static QuantizedWeight ofDoubleQuantized(QuantFormat format, int out, int in,
      int blockSize, byte[] codes, byte[] absmaxCodes, float[] absmaxScales, float absmaxOffset) {
    BlockwiseCodec.checkParts(format, out, in, blockSize, codes);
    int blocks = Math.toIntExact(ceilDiv((long) out * in, blockSize));
    Objects.requireNonNull(absmaxCodes, "absmaxCodes");
    if (absmaxCodes.length != blocks) {
      throw new IllegalArgumentException("absmaxCodes.length: " + absmaxCodes.length
          + ", expected " + blocks + " (one per block)");
    }
    BlockwiseCodec.requireLength("absmaxScales", absmaxScales, (int) ceilDiv(blocks, DOUBLE_QUANT_BLOCK_SIZE));
    if (!Float.isFinite(absmaxOffset)) {
      throw new IllegalArgumentException("absmaxOffset: " + absmaxOffset + ", expected finite");
    }
    return new QuantizedWeight(format, out, in, blockSize, NativeBytes.copyOf(codes), null,
        new DoubleQuantizedAbsmax(absmaxCodes.clone(), absmaxScales.clone(), absmaxOffset));
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
      halves.decode(format, (int) start, len, out);
    } else {
      BlockwiseCodec.decode(format, table, codes, blockSize, this::blockAbsmax, start, len, out);
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
    return dq.absmax(b);
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
    QuantizedMatmul.matmulTransposedInto(this, x, buf, y);
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
    QuantizedMatmul.matmulInto(this, dy, buf, dx);
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
    return dq != null;
  }

  /**
   * A copy of the packed codes (4-bit: two per byte, first element in the high nibble); for the
   * 16-bit formats, the elements' bits as little-endian byte pairs (the safetensors layout).
   */
  public byte[] codes() {
    return halves != null ? halves.littleEndian() : codes.toArray();
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
    return dq.codes().clone();
  }

  /** A copy of the fp32 second-level scales, one per 256 blocks; double quantization only. */
  public float[] absmaxScales() {
    requireDoubleQuant(true, "absmaxScales");
    return dq.scales().clone();
  }

  /** The mean of the fp32 absmax values subtracted before double quantization. */
  public float absmaxOffset() {
    requireDoubleQuant(true, "absmaxOffset");
    return dq.offset();
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
   * Adds the arrays this weight holds (codes in native memory; scales and double-quantization
   * state on the Java heap) to {@code ledger} as {@link MemoryLedger.Category#QUANTIZED}; a 16-bit weight's
   * elements (native memory) as {@link MemoryLedger.Category#FROZEN}.
   */
  public void addTo(MemoryLedger ledger) {
    if (halves != null) { // a dense frozen weight in a 16-bit type
      ledger.add(MemoryLedger.Category.FROZEN, halves.array());
      return;
    }
    MemoryLedger.Category q = MemoryLedger.Category.QUANTIZED;
    ledger.add(q, codes.array());
    if (absmax != null) {
      ledger.addHeap(q, absmax, 4L * absmax.length);
    } else {
      ledger.addHeap(q, dq.codes(), dq.codes().length);
      ledger.addHeap(q, dq.scales(), 4L * dq.scales().length + 4L); // + the offset
    }
  }

  /** Bytes of codes + first-level scales + second-level scales and offset. */
  public long storageBytes() {
    if (halves != null) {
      return 2L * halves.length();
    }
    long bytes = codes.length();
    if (absmax != null) {
      bytes += 4L * absmax.length;
    } else {
      bytes += dq.bytes();
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

  private static float[] toFloats(INDArray w) {
    INDArray f = w.dataType() == DataType.FLOAT ? w : w.castTo(DataType.FLOAT);
    if (f.isView() || f.ordering() != 'c' || f.data().length() != f.length()) {
      f = f.dup('c');
    }
    return f.data().asFloat();
  }

  private static long ceilDiv(long a, long b) {
    return (a + b - 1) / b;
  }
}
