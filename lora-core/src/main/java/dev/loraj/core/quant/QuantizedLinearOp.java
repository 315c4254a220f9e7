package dev.loraj.core.quant;

import dev.loraj.core.engine.MemoryLedger;
import dev.loraj.core.engine.Threads;
import dev.loraj.core.graph.JavaComputedOp;
import java.lang.ref.Reference;
import java.lang.ref.WeakReference;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import org.bytedeco.javacpp.FloatPointer;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.OpContext;
import org.nd4j.linalg.api.shape.LongShapeDescriptor;
import org.nd4j.linalg.factory.Nd4j;

/**
 * A SameDiff op computed in Java: {@code y = x deq(W)^T} for a {@link QuantizedWeight} W
 * [out, in] (the frozen linear of QLoRA, arXiv 2305.14314, eq. 5), whose backward pass is the
 * same kind of op, {@code dx = dy deq(W)}, and which gives no gradient to W: the codes and
 * scales never enter the graph, so nothing can differentiate them.
 *
 * <p><b>Why a Java op, and how it runs inside SameDiff.</b> In-graph dequantization is two
 * orders of magnitude too slow on ND4J ({@code gather} ~0.6 us per index, docs/engine.md);
 * the chunked Java kernels of {@link QuantizedWeight} ({@link QuantizedWeight#matmulTransposed},
 * {@link QuantizedWeight#matmul}) dequantize {@link DequantBuffer#DEFAULT_CHUNK_ROWS} rows at a
 * time into a reused buffer and call gemm, so the whole float weight never exists. ND4J
 * 1.0.0-M2.1 has no user-defined op: its executor sends every custom op to libnd4j by
 * {@link #opHash()}. It does, however, ask the <em>Java</em> op object for its output shapes,
 * with the op's input arrays already in the {@link OpContext}, right before it allocates the
 * outputs and executes ({@code InferenceSession.getAndParameterizeOp}). This op computes its
 * result there, puts it in place of input 0, and reports the hash of libnd4j's {@code identity},
 * which then copies it into the output array the session allocated. That copy happens only in
 * SameDiff's runs (the first two steps of a training run); the replay plan
 * ({@code GradientReplay}) calls {@link #computeInto}, which writes the product straight into the
 * plan's output array. The same path serves inference ({@code output}) and the gradient
 * graph ({@code calculateGradients}).
 *
 * <p><b>Cloning.</b> SameDiff builds its gradient graph from clones re-created by op name and
 * arguments, so everything the op needs travels in its arguments: the mode in an integer
 * argument, the weight's key in a string argument. The key resolves through a registry of weak
 * references: the graph does not keep a weight alive, its owner (the base model) does.
 * {@link #register()} maps the op name to this class in ND4J's op registry.
 *
 * <p>Thread-safety: one {@link DequantBuffer} per thread and input width is reused across calls.
 * In a replayed step the products are split over the kernel pool ({@link Threads}), whose threads
 * keep buffers of their own.
 */
public final class QuantizedLinearOp extends JavaComputedOp {

  /** The op name under which clones are re-created. */
  public static final String OP_NAME = "loraj_quantized_linear";

  /** Integer argument 0: {@code y = x deq(W)^T}, x [n, in] -> [n, out] (the forward pass). */
  static final long FORWARD = 0;
  /** Integer argument 0: {@code dx = dy deq(W)}, dy [n, out] -> [n, in] (the input gradient). */
  static final long INPUT_GRADIENT = 1;

  private static final Map<String, WeakReference<QuantizedWeight>> WEIGHTS = new ConcurrentHashMap<>();
  private static final Map<QuantizedWeight, String> KEYS =
      java.util.Collections.synchronizedMap(new java.util.WeakHashMap<>());
  private static final AtomicLong NEXT_KEY = new AtomicLong();
  /** Every thread's buffers by input width: the kernel team's workers have their own too. */
  private static final Map<Thread, Map<Integer, DequantBuffer>> ALL_BUFFERS = new ConcurrentHashMap<>();
  private static final ThreadLocal<Map<Integer, DequantBuffer>> BUFFERS = ThreadLocal.withInitial(() ->
      ALL_BUFFERS.computeIfAbsent(Thread.currentThread(), t -> new ConcurrentHashMap<>()));

  /** For SameDiff's reflection (clones). */
  public QuantizedLinearOp() {}

  /**
   * Integer argument 0: {@code y[k] = deq(W)[ids[k]]}, ids (integer, any shape) -> [n, in]: the
   * lookup of a frozen embedding table held in 16 bits, W [num_embeddings, dim]. Token ids have
   * no gradient and the table is frozen, so it has no backward op.
   */
  static final long ROWS = 2;

  private QuantizedLinearOp(SameDiff sd, SDVariable in, String key, long mode) {
    super(sd, in);
    addIArgument(mode);
    addSArgument(key);
  }

  /**
   * {@code x deq(W)^T} as a graph node.
   *
   * @param x [n, in], float
   * @param weight W [out, in]
   * @return [n, out]
   */
  public static SDVariable apply(SameDiff sd, SDVariable x, QuantizedWeight weight) {
    if (!dev.loraj.core.engine.Engine.current().hostKernels()) {
      return DequantOps.linear(sd, x, weight); // the portable engine: ND4J ops only
    }
    register();
    return new QuantizedLinearOp(sd, x, keyOf(weight), FORWARD).outputVariable();
  }

  /**
   * Rows {@code ids} of deq(W) as a graph node: a frozen embedding table held in 16 bits (or
   * quantized), looked up without a float copy of the table.
   *
   * @param ids token ids, integer, any shape
   * @param table W [num_embeddings, dim]
   * @return [ids.length, dim]
   */
  public static SDVariable rows(SameDiff sd, SDVariable ids, QuantizedWeight table) {
    if (!dev.loraj.core.engine.Engine.current().hostKernels()) {
      return sd.gather(DequantOps.dequantize(sd, table), sd.reshape(ids, -1), 0); // ND4J ops only
    }
    register();
    return new QuantizedLinearOp(sd, ids, keyOf(table), ROWS).outputVariable();
  }

  /**
   * The key under which ops of this framework name {@code w} in their string arguments (see
   * "Cloning" above); {@link #held} resolves it.
   */
  public static String keyOf(QuantizedWeight w) {
    synchronized (KEYS) {
      String key = KEYS.get(w);
      if (key == null) {
        WEIGHTS.values().removeIf(r -> r.get() == null);
        key = "qw" + NEXT_KEY.incrementAndGet();
        KEYS.put(w, key);
        WEIGHTS.put(key, new WeakReference<>(w));
      }
      return key;
    }
  }

  private QuantizedWeight weight() {
    return held(sArgs()[0], getOwnName());
  }

  /** The weight {@link #keyOf} named {@code key}; the error names {@code op}, the op reading it. */
  public static QuantizedWeight held(String key, String op) {
    WeakReference<QuantizedWeight> ref = WEIGHTS.get(key);
    QuantizedWeight w = ref == null ? null : ref.get();
    if (w == null) {
      throw new IllegalStateException("quantized weight '" + key + "' of op " + op
          + " is no longer held by any model: rebuild the graph from the model");
    }
    return w;
  }

  private long mode() {
    return iArgs()[0];
  }

  @Override
  public String opName() {
    return OP_NAME;
  }

  /**
   * SameDiff's path: computes the product into a new array and replaces input 0 by it (see the
   * class comment); the replay plan calls {@link #computeInto} on its own output array instead.
   *
   * @return the result's shape, [n, out] forward or [n, in] for the input gradient
   */
  @Override
  public List<LongShapeDescriptor> calculateOutputShape(OpContext oc) {
    INDArray in = oc.getInputArray(0);
    QuantizedWeight w = weight();
    if (mode() == ROWS) {
      return computeAndPublish(oc, new long[] {in.length(), w.cols()});
    }
    return computeAndPublish(oc, new long[] {in.size(0), mode() == FORWARD ? w.rows() : w.cols()});
  }

  @Override
  protected boolean computesIntoOutput() {
    return true;
  }

  /** Writes the product straight into {@code out}: no result array of its own, no copy. */
  @Override
  protected void computeInto(List<INDArray> inputs, INDArray out) {
    QuantizedWeight w = weight();
    if (mode() == ROWS) {
      lookUpRows(w, inputs.get(0), out);
      return;
    }
    boolean forward = mode() == FORWARD;
    QuantizedMatmul.checked(w, inputs.get(0), out, forward, in -> {
      if (forward) {
        forward(w, in, out);  // [n, in] x [in, out]
      } else {
        backward(w, in, out); // [n, out] x [out, in]
      }
    });
  }

  private static DequantBuffer buffer(QuantizedWeight w) {
    return BUFFERS.get().computeIfAbsent(w.cols(),
        c -> new DequantBuffer(DequantBuffer.DEFAULT_CHUNK_ROWS, c));
  }

  /**
   * {@code y = x deq(W)^T}; while OpenBLAS runs on its callers' threads (a replayed step,
   * {@link Threads#callerBlas()}), W's row chunks are split over the kernel pool, each thread
   * dequantizing into a buffer of its own and writing its own columns of y.
   */
  private static void forward(QuantizedWeight w, INDArray x, INDArray y) {
    int chunk = DequantBuffer.DEFAULT_CHUNK_ROWS;
    Threads.splitProducts(chunks(w), 1, chunkWork(w, x.size(0)), (from, to) ->
        QuantizedMatmul.forwardRows(w, x, buffer(w), y, from * chunk, Math.min(w.rows(), to * chunk)));
  }

  /**
   * {@code dx = dy deq(W)}, split as {@link #forward}: every part sums over its own rows of W, the
   * caller's part into {@code dx}, each other part into an array of its own, which is then added
   * to {@code dx} in the order of the parts (so a given thread count gives the same bits).
   */
  private static void backward(QuantizedWeight w, INDArray dy, INDArray dx) {
    int chunk = DequantBuffer.DEFAULT_CHUNK_ROWS;
    java.util.concurrent.ConcurrentSkipListMap<Integer, INDArray> partials =
        new java.util.concurrent.ConcurrentSkipListMap<>();
    try {
      Threads.splitProducts(chunks(w), 1, chunkWork(w, dy.size(0)), (from, to) -> {
        INDArray target = dx;
        if (from > 0) {
          target = Nd4j.createUninitialized(DataType.FLOAT, dx.shape(), 'c');
          partials.put(from, target);
        }
        QuantizedMatmul.backwardRows(w, dy, buffer(w), target, from * chunk,
            Math.min(w.rows(), to * chunk));
      });
      partials.values().forEach(dx::addi);
    } finally {
      partials.values().forEach(INDArray::close);
    }
  }

  /** W's row chunks of {@link DequantBuffer#DEFAULT_CHUNK_ROWS}. */
  private static int chunks(QuantizedWeight w) {
    return (w.rows() + DequantBuffer.DEFAULT_CHUNK_ROWS - 1) / DequantBuffer.DEFAULT_CHUNK_ROWS;
  }

  /** Multiply-adds of one chunk's product with {@code n} rows. */
  private static long chunkWork(QuantizedWeight w, long n) {
    return n * DequantBuffer.DEFAULT_CHUNK_ROWS * w.cols();
  }

  /** Writes row {@code ids[k]} of deq(W) into row k of {@code out} [ids.length, cols]. */
  private void lookUpRows(QuantizedWeight w, INDArray ids, INDArray out) {
    long[] id = ids.reshape(ids.length()).toLongVector();
    int cols = w.cols();
    float[] rows = new float[Math.toIntExact((long) id.length * cols)];
    float[] row = new float[cols];
    for (int k = 0; k < id.length; k++) {
      if (id[k] < 0 || id[k] >= w.rows()) {
        throw new IndexOutOfBoundsException("token id " + id[k] + " at position " + k
            + " outside the embedding table's [0, " + w.rows() + ") (op " + getOwnName() + ")");
      }
      w.dequantizeRows((int) id[k], 1, row);
      System.arraycopy(row, 0, rows, k * cols, cols);
    }
    INDArray dst = out.isView() || out.ordering() != 'c' ? null : out;
    if (dst == null) {
      out.assign(Nd4j.create(rows, new long[] {id.length, cols}, 'c'));
      return;
    }
    try {
      new FloatPointer(dst.data().addressPointer()).put(rows, 0, rows.length);
    } finally {
      Reference.reachabilityFence(dst); // a raw pointer into dst's buffer (see TensorCodec)
    }
  }

  /**
   * Adds every thread's dequantization buffers to {@code ledger} as activations (the step's
   * working set): the caller's and those of the kernel team's workers, which split the products.
   */
  public static void addBuffersTo(MemoryLedger ledger) {
    ALL_BUFFERS.values().forEach(m -> m.values().forEach(b -> b.addTo(ledger)));
  }

  /**
   * Frees every thread's dequantization buffers (the next product allocates them again); call it
   * when no product runs, e.g. between trials. A thread that has ended leaves its map here.
   */
  public static void releaseBuffers() {
    ALL_BUFFERS.forEach((t, m) -> {
      m.values().forEach(DequantBuffer::close);
      m.clear();
    });
    ALL_BUFFERS.keySet().removeIf(t -> !t.isAlive());
  }

  /**
   * Forward: {@code dx = dy deq(W)} (an op of this kind in the other mode); no gradient for W,
   * which is not an input. Input gradient: the gradient of {@code dy deq(W)} w.r.t. dy is
   * {@code g deq(W)^T}.
   */
  @Override
  public List<SDVariable> doDiff(List<SDVariable> gradients) {
    if (mode() == ROWS) {
      return List.of(sameDiff.zerosLike(arg())); // token ids: no gradient
    }
    long other = mode() == FORWARD ? INPUT_GRADIENT : FORWARD;
    return List.of(new QuantizedLinearOp(sameDiff, gradients.get(0), sArgs()[0], other).outputVariable());
  }

  /** Maps {@link #OP_NAME} to this class in ND4J's op registry (idempotent). */
  public static void register() {
    register(OP_NAME, QuantizedLinearOp::new);
  }
}
