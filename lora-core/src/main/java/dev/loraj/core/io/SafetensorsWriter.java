package dev.loraj.core.io;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Writes safetensors files, atomically ({@link AtomicFiles}).
 *
 * <p>Layout follows the reference writer (huggingface/safetensors 0.8, {@code prepare}):
 * tensors sorted by dtype, widest first in the order of {@link SafetensorsDtype} reversed,
 * then by name (UTF-8 byte order); the JSON header lists {@code __metadata__} first (when the
 * metadata map is not null, even if empty), then the tensors in buffer order; padded with
 * spaces to a multiple of 8. The dtype-first order keeps each tensor aligned to its element
 * size, so a memory-mapped reader can view it in place. With at most one metadata entry the
 * output is byte-identical to the reference library's (with more, the library's key order is
 * its hash map's and varies between runs; here keys are sorted).
 *
 * <p>ND4J arrays: floating-point arrays are written as F32 unless another float dtype is given
 * (F16 and BF16 round to nearest even, see {@link HalfPrecision}); integer and boolean arrays
 * keep their type. Views, 'f'-order and strided arrays are written in C order. Arrays are
 * streamed one at a time in chunks while writing, so peak extra memory is at most one tensor's
 * C-order copy (none for arrays already in C order and the written dtype), and a tensor may
 * exceed 2 GiB.
 */
public final class SafetensorsWriter {
  private SafetensorsWriter() {}

  /** Writes floating-point arrays as F32, others in their own dtype. */
  public static void write(Path file, Map<String, INDArray> tensors, Map<String, String> metadata)
      throws IOException {
    write(file, tensors, metadata, SafetensorsDtype.F32);
  }

  /**
   * Writes floating-point arrays as {@code floatDtype} (F16, BF16, F32 or F64), others in
   * their own dtype. {@code metadata} may be null (no {@code __metadata__} entry).
   */
  public static void write(
      Path file, Map<String, INDArray> tensors, Map<String, String> metadata,
      SafetensorsDtype floatDtype) throws IOException {
    writeEntries(file, arrayEntries(tensors, floatDtype), metadata);
  }

  /**
   * The size in bytes of the file {@link #write(Path, Map, Map, SafetensorsDtype)} would write,
   * without encoding or writing anything.
   */
  public static long fileSize(
      Map<String, INDArray> tensors, Map<String, String> metadata, SafetensorsDtype floatDtype) {
    List<Entry> entries = arrayEntries(tensors, floatDtype);
    long size = 8 + prepare(entries, metadata).length;
    for (Entry e : entries) {
      size += e.byteLength;
    }
    return size;
  }

  private static List<Entry> arrayEntries(Map<String, INDArray> tensors, SafetensorsDtype floatDtype) {
    List<Entry> entries = new ArrayList<>(tensors.size());
    tensors.forEach(
        (name, array) -> {
          Objects.requireNonNull(array, () -> "tensor '" + name + "' is null");
          SafetensorsDtype dtype = TensorCodec.targetDtype(array, floatDtype);
          long[] shape = array.shape();
          entries.add(
              new Entry(name, dtype, shape, byteLength(dtype, shape),
                  out -> TensorCodec.write(array, dtype, out)));
        });
    return entries;
  }

  /**
   * A tensor whose bytes its own code writes, for data held outside ND4J arrays (a 16-bit or
   * quantized frozen weight, say) that should reach the file without an encoded copy in memory.
   *
   * @param dtype the element type written
   * @param shape the dimensions (copied)
   * @param body writes exactly {@code product(shape) * dtype.byteSize()} bytes, row-major
   *     little-endian (checked)
   */
  public record Streamed(SafetensorsDtype dtype, long[] shape, IOConsumer<OutputStream> body) {
    public Streamed {
      Objects.requireNonNull(dtype, "dtype");
      Objects.requireNonNull(body, "body");
      shape = shape.clone();
      for (long d : shape) {
        if (d < 0) {
          throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " has a negative dimension");
        }
      }
    }

    /** Bytes of the encoded tensor. */
    public long byteLength() {
      return SafetensorsWriter.byteLength(dtype, shape);
    }

    @Override
    public long[] shape() {
      return shape.clone();
    }
  }

  /**
   * Writes {@code arrays} (floating-point ones as {@code floatDtype}) and {@code streamed}
   * tensors in one file; names must not repeat between the two maps. {@code metadata} may be
   * null.
   */
  public static void write(Path file, Map<String, INDArray> arrays, SafetensorsDtype floatDtype,
      Map<String, Streamed> streamed, Map<String, String> metadata) throws IOException {
    List<Entry> entries = arrayEntries(arrays, floatDtype);
    streamed.forEach((name, t) -> {
      if (arrays.containsKey(name)) {
        throw new IllegalArgumentException("tensor '" + name + "' is given twice (as an array and"
            + " streamed)");
      }
      entries.add(new Entry(name, t.dtype(), t.shape(), byteLength(t.dtype(), t.shape()), t.body()));
    });
    writeEntries(file, entries, metadata);
  }

  /** Writes already-encoded tensors (any dtype). {@code metadata} may be null. */
  public static void writeData(
      Path file, Map<String, TensorData> tensors, Map<String, String> metadata)
      throws IOException {
    writeEntries(file, dataEntries(tensors), metadata);
  }

  /** The file's bytes in memory (small files, tests). */
  public static byte[] toBytes(Map<String, TensorData> tensors, Map<String, String> metadata) {
    List<Entry> entries = dataEntries(tensors);
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try {
      serialize(entries, metadata, out);
    } catch (IOException e) {
      throw new UncheckedIOException(e); // ByteArrayOutputStream does not throw
    }
    return out.toByteArray();
  }

  private static List<Entry> dataEntries(Map<String, TensorData> tensors) {
    List<Entry> entries = new ArrayList<>(tensors.size());
    tensors.forEach(
        (name, data) -> {
          Objects.requireNonNull(data, () -> "tensor '" + name + "' is null");
          entries.add(
              new Entry(name, data.dtype(), data.shape(), data.byteLength(),
                  out -> out.write(data.bytesUnsafe())));
        });
    return entries;
  }

  /**
   * Writes tensors whose bytes are generated or read one at a time (a checkpoint larger than
   * memory): nothing but the tensor being written is held. {@code metadata} may be null.
   */
  public static void writeStreamed(Path file, Map<String, Streamed> tensors, Map<String, String> metadata)
      throws IOException {
    write(file, Map.of(), SafetensorsDtype.F32, tensors, metadata);
  }

  private static void writeEntries(Path file, List<Entry> entries, Map<String, String> metadata)
      throws IOException {
    // validate and build the header before the target is touched
    byte[] header = prepare(entries, metadata);
    AtomicFiles.write(file, out -> writeBody(header, entries, out));
  }

  private static void serialize(List<Entry> entries, Map<String, String> metadata,
      OutputStream out) throws IOException {
    writeBody(prepare(entries, metadata), entries, out);
  }

  /** Sorts {@code entries} into buffer order and returns the padded header. */
  private static byte[] prepare(List<Entry> entries, Map<String, String> metadata) {
    if (metadata != null) {
      metadata.forEach(
          (k, v) -> {
            Objects.requireNonNull(k, "metadata key is null");
            Objects.requireNonNull(v, () -> "metadata value for key '" + k + "' is null");
          });
    }
    for (Entry e : entries) {
      Objects.requireNonNull(e.name, "tensor name is null");
      if (e.name.equals(SafetensorsHeader.METADATA_KEY)) {
        throw new IllegalArgumentException(
            "tensor name '__metadata__' is reserved for the metadata entry; rename the tensor");
      }
    }
    entries.sort(
        Comparator.comparing((Entry e) -> e.dtype, Comparator.reverseOrder())
            .thenComparing(e -> e.name, SafetensorsHeader.UTF8_ORDER));
    List<TensorInfo> infos = new ArrayList<>(entries.size());
    long offset = 0;
    for (Entry e : entries) {
      infos.add(new TensorInfo(e.name, e.dtype, e.shape, offset, offset + e.byteLength));
      offset += e.byteLength;
    }
    byte[] header = SafetensorsHeader.encode(infos, metadata);
    if (header.length > SafetensorsHeader.MAX_HEADER_BYTES) {
      throw new IllegalArgumentException(
          "header would have " + header.length + " bytes; readers refuse more than "
              + SafetensorsHeader.MAX_HEADER_BYTES + " (too many tensors or too much metadata)");
    }
    return header;
  }

  private static void writeBody(byte[] header, List<Entry> entries, OutputStream out)
      throws IOException {
    out.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(header.length)
        .array());
    out.write(header);
    for (Entry e : entries) {
      CountingStream counted = new CountingStream(out);
      e.body.accept(counted);
      if (counted.count != e.byteLength) {
        throw new IllegalStateException(
            "tensor '" + e.name + "' wrote " + counted.count + " bytes; its header entry says "
                + e.byteLength);
      }
    }
  }

  private static long byteLength(SafetensorsDtype dtype, long[] shape) {
    long n = dtype.byteSize();
    for (long d : shape) {
      n = Math.multiplyExact(n, d);
    }
    return n;
  }

  private record Entry(
      String name, SafetensorsDtype dtype, long[] shape, long byteLength,
      IOConsumer<OutputStream> body) {
    @Override
    public String toString() {
      return name + ": " + dtype + " " + Arrays.toString(shape);
    }
  }

  private static final class CountingStream extends OutputStream {
    private final OutputStream out;
    long count;

    CountingStream(OutputStream out) {
      this.out = out;
    }

    @Override
    public void write(int b) throws IOException {
      out.write(b);
      count++;
    }

    @Override
    public void write(byte[] b, int off, int len) throws IOException {
      out.write(b, off, len);
      count += len;
    }
  }
}
