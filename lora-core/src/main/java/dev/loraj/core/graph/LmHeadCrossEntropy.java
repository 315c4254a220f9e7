package dev.loraj.core.graph;

import dev.loraj.core.engine.MemoryLedger;
import dev.loraj.core.engine.Threads;
import dev.loraj.core.quant.DequantBuffer;
import dev.loraj.core.quant.QuantizedLinearOp;
import dev.loraj.core.quant.QuantizedWeight;
import java.lang.ref.Reference;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import java.util.concurrent.ConcurrentSkipListMap;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.openblas.global.openblas_nolapack;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.OpContext;
import org.nd4j.linalg.api.shape.LongShapeDescriptor;
import org.nd4j.linalg.api.shape.Shape;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * A language model's loss through a frozen head, without its [rows, vocab] logits: token
 * cross-entropy of {@code logits = h W^T} against label ids, for final hidden states h [rows, e]
 * and a frozen head weight W [vocab, e] (a tied embedding table or an {@code lm_head} no adapter
 * targets, held in 16 bits or quantized as a {@link QuantizedWeight}, or a float32 array).
 * {@code Objective.tokenCrossEntropy()} uses it when the model describes such a head
 * ({@code ModelOutput.FrozenHead}) and the engine has host kernels; {@code -Dloraj.fusedHead=false}
 * keeps the logits path.
 *
 * <p><b>Why.</b> At a 151,936-token vocabulary the logits and their gradient are two float32
 * arrays of 156 MB per 256 positions, the largest activations of a step. This op walks W in
 * chunks of {@link #chunkRows()} rows instead, once. Since
 * {@code dL/dh_r = (softmax(h_r W^T) W - W[label_r]) / counted}, the first term is an attention
 * of h over W with W as keys and values, and it is accumulated as flash attention accumulates its
 * output (Dao et al. 2022, arXiv 2205.14135): per chunk, the logits {@code h W_c^T}, each row's
 * running maximum m and sum l of {@code exp(logit - m)}, and {@code acc <- alpha acc + exp(logits
 * - m) W_c}, where {@code alpha = exp(m_old - m_new)} rescales what was accumulated against an
 * older maximum. At the end {@code loss = mean over counted rows of (m + log l - logit_label)} and
 * {@code dL/dh_r = (acc_r / l_r - W[label_r]) / counted}. Two products per chunk, as the unfused
 * path's logits and input gradient; only one chunk of logits per thread ([rows, chunkRows]) and
 * one dequantized chunk of W exist at a time, kept for the next step.
 *
 * <p><b>Forward computes the gradient.</b> The forward op's output carries both: element 0 is
 * the loss, elements 1.. are dL/dh [rows, e] in row-major order. {@link #loss} returns element 0
 * as the scalar loss; the backward op multiplies elements 1.. by the upstream gradient of that
 * scalar.
 *
 * <p><b>Threads.</b> The chunks are split over {@link Threads}' kernel pool in contiguous
 * parts (OpenBLAS on the callers' threads meanwhile, {@link Threads#callerBlas()}); each part
 * keeps its own running maxima, sums and accumulator, which are rescaled to the rows' overall
 * maxima and added in the order of the parts, so a given thread count gives the same bits in a
 * SameDiff run and a replayed one.
 *
 * <p>Labels are checked as by {@link VectorKernelOp#crossEntropyIds}: one per row,
 * {@link VectorKernelOp#IGNORE_INDEX} ignored, anything else outside [0, vocab) an error naming
 * the row, the value and the vocabulary size. With no counted row the loss and gradient are 0.
 */
public final class LmHeadCrossEntropy extends JavaComputedOp {
  static final String OP_NAME = "loraj_lm_head_xent";

  /** Integer argument 0: the loss and dL/dh from h, ids and W. */
  static final long FORWARD = 0;
  /** Integer argument 0: dL/dh scaled by the upstream gradient, from h, the forward output and its gradient. */
  static final long BACKWARD = 1;

  /** Default vocabulary rows per chunk: [256, 1024] logits are 1 MiB of float32. */
  public static final int DEFAULT_CHUNK_ROWS = 1024;

  private static volatile int chunkRows = DEFAULT_CHUNK_ROWS;

  /** For SameDiff's reflection (clones). */
  public LmHeadCrossEntropy() {}

  private LmHeadCrossEntropy(SameDiff sd, SDVariable[] inputs, long mode, long chunk, String key) {
    super(sd, inputs);
    addIArgument(mode, chunk);
    if (key != null) {
      addSArgument(key);
    }
  }

  /**
   * Whether losses use this op where they can: {@code -Dloraj.fusedHead=false} keeps the logits
   * path (for before/after measurements).
   */
  public static boolean enabled() {
    return !"false".equals(System.getProperty("loraj.fusedHead"));
  }

  /** Vocabulary rows per chunk of the ops built from now on. */
  public static int chunkRows() {
    return chunkRows;
  }

  /** Sets the vocabulary rows per chunk of ops built from now on (tests); returns the old value. */
  public static int setChunkRows(int rows) {
    if (rows < 1) {
      throw new IllegalArgumentException("chunkRows: " + rows + "; accepted: >= 1");
    }
    int old = chunkRows;
    chunkRows = rows;
    return old;
  }

  /**
   * The mean token cross-entropy of {@code hidden deq(table)^T} against {@code ids}, as a scalar.
   *
   * @param hidden h [rows, e], float
   * @param ids label ids, integer, {@code rows} of them (any shape)
   * @param table W [vocab, e], frozen
   */
  public static SDVariable loss(SameDiff sd, SDVariable hidden, SDVariable ids, QuantizedWeight table) {
    return of(sd, new SDVariable[] {hidden, ids}, QuantizedLinearOp.keyOf(table));
  }

  /** As {@link #loss(SameDiff, SDVariable, SDVariable, QuantizedWeight)} for a float32 W [vocab, e] (a constant). */
  public static SDVariable loss(SameDiff sd, SDVariable hidden, SDVariable ids, SDVariable weight) {
    return of(sd, new SDVariable[] {hidden, ids, weight}, null);
  }

  private static SDVariable of(SameDiff sd, SDVariable[] in, String key) {
    register(OP_NAME, LmHeadCrossEntropy::new);
    SDVariable out = new LmHeadCrossEntropy(sd, in, FORWARD, chunkRows, key).outputVariable();
    return sd.stridedSlice(out, new long[] {0}, new long[] {1}, new long[] {1}, 0, 0, 0, 0, 1); // element 0, a scalar
  }

  private long mode() {
    return iArgs()[0];
  }

  @Override
  public String opName() {
    return OP_NAME;
  }

  @Override
  public List<LongShapeDescriptor> calculateOutputShape(OpContext oc) {
    INDArray h = oc.getInputArray(0);
    return computeAndPublish(oc, mode() == FORWARD ? new long[] {1 + h.length()} : h.shape());
  }

  @Override
  protected boolean computesIntoOutput() {
    return true;
  }

  @Override
  protected void computeInto(List<INDArray> in, INDArray out) {
    if (mode() == BACKWARD) {
      INDArray fwd = in.get(1);
      long n = in.get(0).length();
      double dy = in.get(2).getDouble(0);
      out.assign(fwd.get(NDArrayIndex.interval(1, 1 + n)).mul(dy).reshape('c', out.shape()));
      return;
    }
    INDArray h = plain(in.get(0));
    INDArray dense = in.size() > 2 ? plain(in.get(2)) : null;
    try {
      forward(h, in.get(1), dense, out);
    } finally {
      Reference.reachabilityFence(h);
      Reference.reachabilityFence(dense);
      Reference.reachabilityFence(out);
      if (h != in.get(0)) {
        h.close();
      }
      if (in.size() > 2 && dense != in.get(2)) {
        dense.close();
      }
    }
  }

  private void forward(INDArray h, INDArray idArray, INDArray dense, INDArray out) {
    QuantizedWeight held = dense == null ? QuantizedLinearOp.held(sArgs()[0], getOwnName()) : null;
    int rows = Math.toIntExact(h.size(0));
    int e = Math.toIntExact(h.size(1));
    int vocab = Math.toIntExact(held != null ? held.rows() : dense.size(0));
    int weightCols = Math.toIntExact(held != null ? held.cols() : dense.size(1));
    if (weightCols != e) {
      throw new IllegalArgumentException(OP_NAME + ": hidden states [" + rows + ", " + e
          + "] do not match the head weight [" + vocab + ", " + weightCols + "]; expected width " + weightCols);
    }
    long[] ids = VectorKernelOp.checkedLabels(idArray, rows, vocab);
    int counted = 0;
    for (long id : ids) {
      counted += id >= 0 ? 1 : 0;
    }
    if (counted == 0) {
      out.assign(0);
      return;
    }
    int chunk = (int) Math.min(iArgs()[1], vocab);
    int chunks = (vocab + chunk - 1) / chunk;
    long minChunks = Math.max(1, Threads.gemmMinPart() / Math.max(1L, 3L * rows * chunk * e));
    Head head = new Head(h, ids, held, dense, rows, e, vocab, chunk);
    ConcurrentSkipListMap<Integer, Part> parts = new ConcurrentSkipListMap<>();
    try (Threads.Scope blas = Threads.callerBlas()) {
      Threads.splitParts(chunks, 1, minChunks, (from, to) -> {
        Part p = new Part(head);
        parts.put(from, p);
        p.run(from, to);
      });
      // the parts' running maxima, sums and accumulated products, rescaled to one maximum per
      // row and added in the order of the parts
      float[] max = new float[rows];
      float[] sum = new float[rows];
      java.util.Arrays.fill(max, Float.NEGATIVE_INFINITY);
      for (Part p : parts.values()) {
        for (int r = 0; r < rows; r++) {
          max[r] = Math.max(max[r], p.max[r]);
        }
      }
      float[] dh = new float[rows * e];
      for (Part p : parts.values()) {
        java.nio.FloatBuffer acc = p.acc.data().asNio().order(ByteOrder.nativeOrder()).asFloatBuffer();
        for (int r = 0; r < rows; r++) {
          if (p.sum[r] == 0f) {
            continue;
          }
          float f = p.max[r] == max[r] ? 1f : (float) Math.exp(p.max[r] - max[r]);
          sum[r] += p.sum[r] * f;
          for (int k = r * e, end = k + e; k < end; k++) {
            dh[k] += acc.get(k) * f;
          }
        }
      }
      double total = 0;
      float scale = 1f / counted;
      for (int r = 0; r < rows; r++) {
        if (ids[r] < 0) {
          java.util.Arrays.fill(dh, r * e, (r + 1) * e, 0f);
          continue;
        }
        total += Math.log(sum[r]) + max[r] - head.labelLogit[r];
        // dL/dh_r = (softmax_r W - W[label_r]) / counted, softmax_r W = acc_r / sum_r
        float inv = 1f / sum[r];
        for (int k = r * e, j = 0; j < e; k++, j++) {
          dh[k] = (dh[k] * inv - head.labelRow[k]) * scale;
        }
      }
      out.putScalar(0, total / counted);
      out.get(NDArrayIndex.interval(1, 1 + (long) rows * e)).assign(Nd4j.createFromArray(dh));
    } finally {
      parts.values().forEach(Part::close);
    }
  }

  /** The operands every part reads, and the per-row values of the label's chunk. */
  private static final class Head {
    final INDArray h;
    final long[] ids;
    final QuantizedWeight held;
    final INDArray dense;
    final int rows;
    final int e;
    final int vocab;
    final int chunk;
    /** Each row's logit of its label, written by the part whose chunk holds the label. */
    final float[] labelLogit;
    /** Each row's label row of W [rows, e], written likewise. */
    final float[] labelRow;

    Head(INDArray h, long[] ids, QuantizedWeight held, INDArray dense, int rows, int e, int vocab, int chunk) {
      this.h = h;
      this.ids = ids;
      this.held = held;
      this.dense = dense;
      this.rows = rows;
      this.e = e;
      this.vocab = vocab;
      this.chunk = chunk;
      this.labelLogit = new float[rows];
      this.labelRow = new float[rows * e];
    }
  }

  /**
   * A thread's scratch arrays, kept for the next step (one set per thread, replaced when the
   * shape changes): a chunk of logits [rows, chunk] and, for a held W, a dequantization buffer.
   */
  private record Scratch(int rows, int chunk, int e, INDArray logits, DequantBuffer buffer) {
    static Scratch of(Head head) {
      Scratch s = SCRATCH.get(Thread.currentThread());
      if (s == null || s.rows != head.rows || s.chunk != head.chunk || s.e != head.e
          || (s.buffer == null) != (head.held == null)) {
        if (s != null) {
          s.close();
        }
        s = new Scratch(head.rows, head.chunk, head.e,
            Nd4j.createUninitialized(DataType.FLOAT, new long[] {head.rows, head.chunk}, 'c'),
            head.held == null ? null : new DequantBuffer(head.chunk, head.e));
        SCRATCH.put(Thread.currentThread(), s);
      }
      return s;
    }

    void close() {
      logits.close();
      if (buffer != null) {
        buffer.close();
      }
    }
  }

  /** Every thread's scratch arrays: the kernel team's workers run parts too. */
  private static final java.util.Map<Thread, Scratch> SCRATCH = new java.util.concurrent.ConcurrentHashMap<>();

  /** Adds every thread's scratch arrays to {@code ledger} as activations (the step's working set). */
  public static void addBuffersTo(MemoryLedger ledger) {
    for (Scratch s : SCRATCH.values()) {
      ledger.add(MemoryLedger.Category.ACTIVATIONS, s.logits);
      if (s.buffer != null) {
        s.buffer.addTo(ledger);
      }
    }
  }

  /** Frees every thread's scratch arrays (the next loss allocates them again); call it when no loss runs. */
  public static void releaseBuffers() {
    SCRATCH.values().forEach(Scratch::close);
    SCRATCH.clear();
  }

  /**
   * One contiguous range of chunks: its running maxima and sums, and the products of its
   * softmax weights with W accumulated against its own running maxima (as flash attention keeps
   * its output); it runs on the scratch arrays of the thread it runs on.
   */
  private static final class Part implements AutoCloseable {
    private final Head head;
    final float[] max;
    final float[] sum;
    private final float[] alpha;
    INDArray acc; // [rows, e]: sum over chunks of exp(logits - max) W_c, rescaled as max grows

    Part(Head head) {
      this.head = head;
      this.max = new float[head.rows];
      this.sum = new float[head.rows];
      this.alpha = new float[head.rows];
      java.util.Arrays.fill(max, Float.NEGATIVE_INFINITY);
    }

    /**
     * Chunks [from, to): per chunk the logits {@code h W_c^T}, the labels' logits and W rows,
     * the online softmax, and {@code acc <- alpha acc + exp(logits - max) W_c}: two products per
     * chunk, as the logits and the input gradient of the unfused path.
     */
    void run(int from, int to) {
      Scratch s = Scratch.of(head);
      int rows = head.rows;
      int e = head.e;
      acc = Nd4j.createUninitialized(DataType.FLOAT, new long[] {rows, e}, 'c');
      FloatPointer pa = new FloatPointer(acc.data().addressPointer());
      FloatPointer pl = new FloatPointer(s.logits.data().addressPointer());
      FloatPointer ph = new FloatPointer(head.h.data().addressPointer());
      java.nio.FloatBuffer fa = acc.data().asNio().order(ByteOrder.nativeOrder()).asFloatBuffer();
      try {
        for (int c = from; c < to; c++) {
          int r0 = c * head.chunk;
          int n = Math.min(head.chunk, head.vocab - r0);
          FloatPointer w = weightRows(s, r0, n);
          // logits [rows, n] = h [rows, e] x W_c^T [e, n]
          openblas_nolapack.cblas_sgemm(ROW_MAJOR, NO_TRANS, TRANS, rows, n, e, 1f, ph, e, w, e, 0f, pl, n);
          ByteBuffer l = s.logits.data().asNio().order(ByteOrder.nativeOrder()).slice(0, rows * n * 4)
              .order(ByteOrder.nativeOrder());
          long w0 = w.position();
          for (int r = 0; r < rows; r++) {
            long id = head.ids[r];
            if (id >= r0 && id < r0 + n) {
              head.labelLogit[r] = l.getFloat((r * n + (int) (id - r0)) * 4);
              w.position(w0 + (id - r0) * e).get(head.labelRow, r * e, e);
              w.position(w0);
            }
          }
          if (VectorKernelOp.available()) {
            VectorMath.onlineSoftmaxChunk(l, head.ids, rows, n, max, sum, alpha);
          } else {
            onlineSoftmaxChunk(l, head.ids, rows, n, max, sum, alpha);
          }
          if (c > from) {
            for (int r = 0; r < rows; r++) {
              float a = alpha[r];
              if (a != 1f) {
                for (int k = r * e, end = k + e; k < end; k++) {
                  fa.put(k, fa.get(k) * a);
                }
              }
            }
          }
          // acc (+)= P [rows, n] x W_c [n, e]
          openblas_nolapack.cblas_sgemm(ROW_MAJOR, NO_TRANS, NO_TRANS, rows, e, n, 1f, pl, n, w, e,
              c == from ? 0f : 1f, pa, e);
        }
      } finally {
        Reference.reachabilityFence(acc);
        Reference.reachabilityFence(s);
        Reference.reachabilityFence(head.h);
      }
      if (from == to) {
        acc.assign(0);
      }
    }

    /** A pointer to rows [r0, r0 + n) of W as float32 [n, e], dequantized when W is held. */
    private FloatPointer weightRows(Scratch s, int r0, int n) {
      if (head.held != null) {
        return new FloatPointer(s.buffer.load(head.held, r0, n).data().addressPointer());
      }
      FloatPointer p = new FloatPointer(head.dense.data().addressPointer());
      p.position((long) r0 * head.e);
      return p;
    }

    @Override
    public void close() {
      if (acc != null) {
        acc.close();
      }
    }
  }

  /** {@link VectorMath#onlineSoftmaxChunk} without the Vector API. */
  private static void onlineSoftmaxChunk(ByteBuffer x, long[] ids, int rows, int cols, float[] max,
      float[] sum, float[] alpha) {
    for (int r = 0, base = 0; r < rows; r++, base += cols) {
      if (ids[r] < 0) {
        for (int j = 0; j < cols; j++) {
          x.putFloat((base + j) * 4, 0f);
        }
        alpha[r] = 1f;
        continue;
      }
      float m = max[r];
      for (int j = 0; j < cols; j++) {
        m = Math.max(m, x.getFloat((base + j) * 4));
      }
      float s = 0f;
      for (int j = 0; j < cols; j++) {
        float v = (float) Math.exp(x.getFloat((base + j) * 4) - m);
        x.putFloat((base + j) * 4, v);
        s += v;
      }
      alpha[r] = sum[r] == 0f ? 0f : (float) Math.exp(max[r] - m);
      sum[r] = sum[r] * alpha[r] + s;
      max[r] = m;
    }
  }

  private static INDArray plain(INDArray a) {
    boolean plain = a.dataType() == DataType.FLOAT && a.ordering() == 'c' && a.offset() == 0
        && Shape.hasDefaultStridesForShape(a);
    return plain ? a : a.castTo(DataType.FLOAT).dup('c');
  }

  // CBLAS enum values (cblas.h)
  private static final int ROW_MAJOR = 101;
  private static final int NO_TRANS = 111;
  private static final int TRANS = 112;

  /**
   * Forward: the backward op of this kind (h, the forward output, its gradient); no gradient for
   * the ids (integer data, never requested) or W (frozen, a constant).
   */
  @Override
  public List<SDVariable> doDiff(List<SDVariable> gradients) {
    if (mode() != FORWARD) {
      throw new UnsupportedOperationException(OP_NAME + " backward has no gradient");
    }
    SDVariable dh = new LmHeadCrossEntropy(sameDiff, new SDVariable[] {arg(0), outputVariable(), gradients.get(0)},
        BACKWARD, iArgs()[1], null).outputVariable();
    return List.of(dh, sameDiff.zerosLike(arg(1)));
  }
}
