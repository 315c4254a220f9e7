package dev.loraj.core.quant;

import java.lang.ref.Reference;
import org.bytedeco.javacpp.FloatPointer;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * Scratch space for the chunked matmuls of {@link QuantizedWeight}: a heap float array that
 * {@link QuantizedWeight#dequantizeRows} fills and a native [chunkRows, in] float32 array that
 * gemm reads. Hold one per layer (or per thread) and reuse it across steps; not thread-safe.
 * {@link #close()} frees the native array at once instead of waiting for the GC.
 */
public final class DequantBuffer implements AutoCloseable {
  /** Default rows per chunk: 256 rows of a 4096-wide weight are 4 MiB of float32. */
  public static final int DEFAULT_CHUNK_ROWS = 256;

  private final int chunkRows;
  private final int cols;
  private final float[] heap;
  private final INDArray chunk;  // [chunkRows, cols]

  /** A buffer for weights with {@code cols} input features, {@code chunkRows} rows at a time. */
  public DequantBuffer(int chunkRows, int cols) {
    if (chunkRows < 1) {
      throw new IllegalArgumentException("chunkRows: " + chunkRows + ", expected >= 1");
    }
    if (cols < 1) {
      throw new IllegalArgumentException("cols: " + cols + ", expected >= 1");
    }
    long len = (long) chunkRows * cols;
    if (len > Integer.MAX_VALUE - 8) {
      throw new IllegalArgumentException("chunkRows * cols = " + len
          + " floats is too large for one buffer; use fewer chunkRows");
    }
    this.chunkRows = chunkRows;
    this.cols = cols;
    this.heap = new float[(int) len];
    this.chunk = Nd4j.createUninitialized(DataType.FLOAT, new long[] {chunkRows, cols}, 'c');
  }

  /** A buffer of {@code min(out, 256)} rows for {@code w}. */
  public static DequantBuffer forWeight(QuantizedWeight w) {
    return new DequantBuffer(Math.min(w.rows(), DEFAULT_CHUNK_ROWS), w.cols());
  }

  public int chunkRows() {
    return chunkRows;
  }

  public int cols() {
    return cols;
  }

  void checkFits(QuantizedWeight w) {
    if (w.cols() != cols) {
      throw new IllegalArgumentException("buffer cols: " + cols + " != weight in = " + w.cols());
    }
  }

  /** Dequantizes rows [row0, row0 + rows) of {@code w} into the native chunk; a [rows, in] view. */
  public INDArray load(QuantizedWeight w, int row0, int rows) {
    if (rows > chunkRows) {
      throw new IllegalArgumentException("rows: " + rows + " > chunkRows " + chunkRows);
    }
    w.dequantizeRows(row0, rows, heap);
    FloatPointer dst = new FloatPointer(chunk.data().addressPointer());
    dst.put(heap, 0, rows * cols);
    Reference.reachabilityFence(chunk); // dst is a raw pointer into chunk's buffer (see TensorCodec)
    return rows == chunkRows ? chunk
        : chunk.get(NDArrayIndex.interval(0, rows), NDArrayIndex.all());
  }

  /** Adds the native chunk and its heap staging array to {@code ledger} as activations. */
  public void addTo(dev.loraj.core.engine.MemoryLedger ledger) {
    ledger.add(dev.loraj.core.engine.MemoryLedger.Category.ACTIVATIONS, chunk);
    ledger.addHeap(dev.loraj.core.engine.MemoryLedger.Category.ACTIVATIONS, heap, 4L * heap.length);
  }

  @Override
  public void close() {
    chunk.close();
  }
}
