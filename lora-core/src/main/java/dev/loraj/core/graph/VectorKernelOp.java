package dev.loraj.core.graph;

import dev.loraj.core.engine.Engine;
import dev.loraj.core.engine.Threads;
import java.lang.ref.Reference;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.autodiff.samediff.VariableType;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.OpContext;
import org.nd4j.linalg.api.shape.LongShapeDescriptor;
import org.nd4j.linalg.api.shape.Shape;

/**
 * Transcendental-heavy activations computed by {@link VectorMath} (the JDK's Vector API) instead
 * of chains of libnd4j ops: exact GELU, SiLU, softmax over the last axis and {@code exp}, each
 * forward pass one op and each backward pass one op.
 *
 * <p>Why: libnd4j 1.0.0-M2.1 evaluates {@code exp} and {@code erf} with scalar libm calls
 * (3.5 and 5-8 ms per 1.57 M floats here), and autodiff turns exact GELU into 5 forward and ~9
 * backward ops. In a BERT LoRA step (batch 8 x 128) these functions were ~90 ms of ~700.
 *
 * <p>Used when the JVM runs with {@code --add-modules jdk.incubator.vector} (the {@code lora}
 * launcher, the test and benchmark JVMs do), {@code -Dloraj.vectorKernels} is not {@code false}
 * and the engine is not portable ({@link Engine#vectorKernels()}); otherwise {@link #gelu} and
 * the others build the libnd4j op chains as before.
 * Results differ from the libnd4j chains by float rounding and erf's approximation error
 * (&lt; 5e-7 absolute), well inside the PEFT golden tolerances ({@code VectorKernelOpTest}).
 */
public final class VectorKernelOp extends JavaComputedOp {
  static final String OP_NAME = "loraj_vector_kernel";

  /** Whether the engine uses the kernels: Vector API there, not switched off, not portable. */
  public static boolean available() {
    return Engine.current().vectorKernels();
  }

  /** What the op computes; integer argument 0. */
  enum Kernel { GELU, GELU_BP, SILU, SILU_BP, SOFTMAX, SOFTMAX_BP, EXP, XENT, XENT_BP, COLSUM, COLSUM_PROD,
    XENT_IDS, XENT_IDS_BP, NORM, NORM_BP }

  /** For SameDiff's reflection (clones). */
  public VectorKernelOp() {}

  private VectorKernelOp(SameDiff sd, Kernel k, SDVariable... inputs) {
    super(sd, inputs.clone());
    addIArgument(k.ordinal());
  }

  private static SDVariable of(SameDiff sd, Kernel k, SDVariable... inputs) {
    return of(sd, k, new long[0], inputs);
  }

  /** As {@link #of(SameDiff, Kernel, SDVariable...)}, with integer arguments after the kernel's. */
  private static SDVariable of(SameDiff sd, Kernel k, long[] args, SDVariable... inputs) {
    if (register(OP_NAME, VectorKernelOp::new)) {
      VectorMath.warmUp(); // compiled before the first graph runs
    }
    VectorKernelOp op = new VectorKernelOp(sd, k, inputs);
    if (args.length > 0) {
      op.addIArgument(args);
    }
    return op.outputVariable();
  }

  /** Whether the kernels apply: the Vector API is there and every operand is float32. */
  private static boolean usable(SDVariable... vs) {
    if (!available()) {
      return false;
    }
    for (SDVariable v : vs) {
      if (v.dataType() != DataType.FLOAT) {
        return false;
      }
    }
    return true;
  }

  /** Exact GELU, {@code x (1 + erf(x / sqrt 2)) / 2} (transformers' "gelu"). */
  public static SDVariable gelu(SameDiff sd, SDVariable x) {
    if (!usable(x)) {
      return x.mul(0.5).mul(sd.math().erf(x.div(Math.sqrt(2))).add(1.0));
    }
    return of(sd, Kernel.GELU, x);
  }

  /** SiLU, {@code x sigmoid(x)}. */
  public static SDVariable silu(SameDiff sd, SDVariable x) {
    return usable(x) ? of(sd, Kernel.SILU, x) : x.mul(sd.nn().sigmoid(x));
  }

  /** Softmax over the last axis of {@code x} (any rank). */
  public static SDVariable softmaxLastAxis(SameDiff sd, SDVariable x, int rank) {
    return usable(x) ? of(sd, Kernel.SOFTMAX, x) : SoftmaxGrad.apply(sd, x, rank - 1);
  }

  /**
   * Row normalisation of x [rows, cols], one op forward and one backward: LayerNorm's
   * {@code (x - mean) / sqrt(var + eps)} (biased variance) when {@code centred}, else RMSNorm's
   * {@code x / sqrt(mean(x^2) + eps)}; no gain or bias. The backward op recomputes each row's
   * statistics from x (a row is a few KiB, read from cache) instead of keeping them; rows are
   * the last axis of any rank. {@code null} when the kernels do not apply (callers build
   * {@link RowNorm}'s op chain).
   */
  public static SDVariable normRows(SameDiff sd, SDVariable x, double eps, boolean centred) {
    return usable(x) ? of(sd, Kernel.NORM, normArgs(eps, centred), x) : null;
  }

  /** The norm kernels' arguments after the kernel: centred (1 or 0), eps as float bits. */
  private static long[] normArgs(double eps, boolean centred) {
    return new long[] {centred ? 1 : 0, Float.floatToRawIntBits((float) eps)};
  }

  /** {@code exp(x)} elementwise, not differentiable: for values behind a {@link GradientCut}. */
  public static SDVariable exp(SameDiff sd, SDVariable x) {
    return usable(x) ? of(sd, Kernel.EXP, x) : sd.math().exp(x);
  }

  /** The kernel's name for profiles, e.g. {@code vector_gelu_bp}. */
  public String profileName() {
    return "vector_" + kernel().name().toLowerCase(java.util.Locale.ROOT);
  }

  /**
   * Per row of {@code logits} [rows, classes]: {@code sum_c labels_c log softmax(logits)_c}
   * [rows, 1], differentiable in the logits only (labels are data). The op's output is
   * [rows, 3] (with each row's log-sum-exp and label mass for the backward pass); this returns
   * its first column. One op forward and one backward instead of max, subtract, exp, sum, log,
   * multiply and sum forward and five ops of [rows, classes] backward (a Llama LM head's
   * [1024, 32000]: ~200 ms of libnd4j ops). {@code null} when the kernels do not apply (callers
   * keep their op chain).
   */
  public static SDVariable crossEntropyRows(SameDiff sd, SDVariable logits, SDVariable labels) {
    if (!usable(logits, labels)) {
      return null;
    }
    SDVariable rows = of(sd, Kernel.XENT, logits, labels);
    return sd.stridedSlice(rows, new long[] {0, 0}, new long[] {0, 1}, new long[] {1, 1}, 1, 1, 0, 0, 0); // all rows, column 0
  }

  /**
   * Per row of {@code logits} [rows, classes] and its label index in {@code ids} [rows] (an
   * integer placeholder): {@code log softmax(logits)_label} in column 0 of a [rows, 3] result
   * (column 1 the row's log-sum-exp, column 2 whether the row counts: 1, or 0 for label
   * {@link #IGNORE_INDEX}, whose column 0 is 0 and whose gradient is 0). Differentiable in the
   * logits only. The backward op writes {@code dy (onehot - softmax)} straight into the logits'
   * gradient: no one-hot, softmax or log-softmax array of [rows, classes] exists, forward or
   * backward. A label below 0 other than {@link #IGNORE_INDEX}, or not below the class count, is
   * an {@link IllegalArgumentException} when the op runs. {@code null} when the kernels do not
   * apply (callers build an op chain).
   */
  public static SDVariable crossEntropyIds(SameDiff sd, SDVariable logits, SDVariable ids) {
    if (!usable(logits)) {
      return null;
    }
    return of(sd, Kernel.XENT_IDS, logits, ids);
  }

  /** The label of a position the loss ignores (transformers' {@code ignore_index}). */
  public static final int IGNORE_INDEX = -100;

  /**
   * {@code ids} as longs, each checked to be a class of {@code classes} or {@link #IGNORE_INDEX};
   * the error names the placeholder's row, the value and the class count.
   */
  static long[] checkedLabels(INDArray ids, long rows, long classes) {
    if (ids.length() != rows) {
      throw new IllegalArgumentException("label ids: " + ids.length() + " labels for " + rows
          + " rows of logits (shape " + java.util.Arrays.toString(ids.shape()) + "); one label per row");
    }
    long[] v = ids.reshape(rows).toLongVector();
    for (int r = 0; r < v.length; r++) {
      if (v[r] != IGNORE_INDEX && (v[r] < 0 || v[r] >= classes)) {
        throw new IllegalArgumentException("label ids: row " + r + " has label " + v[r]
            + "; accepted: 0.." + (classes - 1) + " (vocabulary size " + classes + ") or "
            + IGNORE_INDEX + " (ignored)");
      }
    }
    return v;
  }

  /**
   * Column sums of {@code a} [rows, cols] (with {@code b}: of {@code a * b}) as [cols]: the
   * gradient of a trainable row weight broadcast over rows (a LayerNorm gain, a bias). libnd4j's
   * {@code multiply_bp}/{@code add_bp} reduce the broadcast axis at 4-7 ms per [1024, 384];
   * this reads the rows once. Not differentiable; {@code null} without the Vector API.
   */
  public static SDVariable columnSums(SameDiff sd, SDVariable a, SDVariable b) {
    if (!usable(a) || b != null && !usable(b)) {
      return null;
    }
    return b == null ? of(sd, Kernel.COLSUM, a) : of(sd, Kernel.COLSUM_PROD, a, b);
  }

  /**
   * Whether a trainable row weight {@code w} [d] broadcast over {@code x} gets its gradient from
   * {@link #columnSums}: the kernels apply, {@code w} is a rank-1 trainable variable, both float32.
   * Shared by {@link FrozenMultiply#byWeight} (gains) and {@link FrozenAdd#byWeight} (biases).
   */
  static boolean columnSumGradient(SDVariable x, SDVariable w) {
    return w.getVariableType() == VariableType.VARIABLE && w.getShape() != null
        && w.getShape().length == 1 && columnSums(x, w);
  }

  /** Whether {@link #columnSums} applies to {@code x} and {@code w}: the kernels are there, both float32. */
  static boolean columnSums(SDVariable x, SDVariable w) {
    return usable(x, w);
  }

  private Kernel kernel() {
    return Kernel.values()[(int) iArgs()[0]];
  }

  @Override
  public String opName() {
    return OP_NAME;
  }

  /** Computes the result into a new array and hands it to the identity copy (SameDiff's path). */
  @Override
  public List<LongShapeDescriptor> calculateOutputShape(OpContext oc) {
    long[] shape = oc.getInputArray(0).shape();
    return computeAndPublish(oc, switch (kernel()) {
      case XENT, XENT_IDS -> new long[] {shape[0], 3};
      case COLSUM, COLSUM_PROD -> new long[] {shape[shape.length - 1]};
      default -> shape;
    });
  }

  @Override
  boolean computesInto() {
    return true;
  }

  /** Computes this op's result from {@code in} into {@code out} (float, c order, same shape). */
  @Override
  void compute(List<INDArray> given, INDArray out) {
    // the kernels read and write raw views of native buffers: the arrays that own them (inputs,
    // their C-order copies, the output) stay reachable until the kernel returns (see TensorCodec)
    List<INDArray> in = given.stream().map(a -> a.dataType().isFPType() ? plainFloat(a) : a).toList();
    try {
      run(in, out);
    } finally {
      Reference.reachabilityFence(in);
      Reference.reachabilityFence(given);
      Reference.reachabilityFence(out);
      for (int i = 0; i < in.size(); i++) {
        if (in.get(i) != given.get(i)) {
          in.get(i).close();
        }
      }
    }
  }

  /**
   * Runs the kernel, split over rows (element ranges, columns) on {@link Threads}' kernel pool
   * when the work is large enough; every part is a view of the same buffers (see
   * {@link Threads#split} for why the results do not depend on the split).
   */
  private void run(List<INDArray> in, INDArray out) {
    ByteBuffer x = data(in.get(0));
    ByteBuffer o = output(out);
    int n = Math.toIntExact(in.get(0).length());
    int lanes = VectorMath.lanes();
    switch (kernel()) {
      case GELU -> Threads.split(n, lanes, 1, (f, t) -> VectorMath.gelu(part(x, f, t), part(o, f, t), t - f));
      case GELU_BP -> {
        ByteBuffer y = data(in.get(1));
        ByteBuffer dy = data(in.get(2));
        Threads.split(n, lanes, 1, (f, t) -> VectorMath.geluBackward(part(x, f, t), part(y, f, t),
            part(dy, f, t), part(o, f, t), t - f));
      }
      case SILU -> Threads.split(n, lanes, 1, (f, t) -> VectorMath.silu(part(x, f, t), part(o, f, t), t - f));
      case SILU_BP -> {
        ByteBuffer dy = data(in.get(1));
        Threads.split(n, lanes, 1, (f, t) -> VectorMath.siluBackward(part(x, f, t), part(dy, f, t),
            part(o, f, t), t - f));
      }
      case EXP -> Threads.split(n, lanes, 1, (f, t) -> VectorMath.exp(part(x, f, t), part(o, f, t), t - f));
      case COLSUM, COLSUM_PROD -> {
        long[] shape = in.get(0).shape();
        int cols = (int) shape[shape.length - 1];
        ByteBuffer b = kernel() == Kernel.COLSUM ? null : data(in.get(1));
        Threads.split(cols, lanes, n / cols, (f, t) -> VectorMath.columnSums(x, b, o, n / cols, cols, f, t));
      }
      case XENT, XENT_BP -> {
        int rows = (int) in.get(0).size(0);
        int cols = (int) in.get(0).size(1);
        ByteBuffer y = data(in.get(1));
        if (kernel() == Kernel.XENT) {
          Threads.split(rows, 1, cols, (f, t) -> VectorMath.crossEntropyRows(part(x, f * cols, t * cols),
              part(y, f * cols, t * cols), part(o, f * 3, t * 3), t - f, cols));
        } else {
          ByteBuffer fwd = data(in.get(2));
          ByteBuffer dy = data(in.get(3));
          Threads.split(rows, 1, cols, (f, t) -> VectorMath.crossEntropyRowsBackward(
              part(x, f * cols, t * cols), part(y, f * cols, t * cols), part(fwd, f * 3, t * 3),
              part(dy, f * 3, t * 3), part(o, f * cols, t * cols), t - f, cols));
        }
      }
      case XENT_IDS, XENT_IDS_BP -> {
        int rows = (int) in.get(0).size(0);
        int cols = (int) in.get(0).size(1);
        long[] ids = checkedLabels(in.get(1), rows, cols);
        if (kernel() == Kernel.XENT_IDS) {
          Threads.split(rows, 1, cols, (f, t) -> VectorMath.crossEntropyIds(part(x, f * cols, t * cols),
              ids, f, part(o, f * 3, t * 3), t - f, cols));
        } else {
          ByteBuffer fwd = data(in.get(2));
          ByteBuffer dy = data(in.get(3));
          Threads.split(rows, 1, cols, (f, t) -> VectorMath.crossEntropyIdsBackward(
              part(x, f * cols, t * cols), ids, f, part(fwd, f * 3, t * 3), part(dy, f * 3, t * 3),
              part(o, f * cols, t * cols), t - f, cols));
        }
      }
      case NORM, NORM_BP -> {
        int cols = (int) in.get(0).size(in.get(0).rank() - 1);
        int rows = n / cols;
        boolean centred = iArgs()[1] == 1;
        float eps = Float.intBitsToFloat((int) iArgs()[2]);
        if (kernel() == Kernel.NORM) {
          Threads.split(rows, 1, cols, (f, t) -> VectorMath.normRows(part(x, f * cols, t * cols),
              part(o, f * cols, t * cols), t - f, cols, eps, centred));
        } else {
          ByteBuffer dn = data(in.get(1));
          Threads.split(rows, 1, cols, (f, t) -> VectorMath.normRowsBackward(
              part(x, f * cols, t * cols), part(dn, f * cols, t * cols), part(o, f * cols, t * cols),
              t - f, cols, eps, centred));
        }
      }
      case SOFTMAX, SOFTMAX_BP -> {
        long[] shape = out.shape();
        int cols = (int) shape[shape.length - 1];
        int rows = n / cols;
        if (kernel() == Kernel.SOFTMAX) {
          Threads.split(rows, 1, cols, (f, t) -> VectorMath.softmaxRows(part(x, f * cols, t * cols),
              part(o, f * cols, t * cols), t - f, cols));
        } else {
          ByteBuffer dy = data(in.get(1));
          Threads.split(rows, 1, cols, (f, t) -> VectorMath.softmaxRowsBackward(
              part(x, f * cols, t * cols), part(dy, f * cols, t * cols), part(o, f * cols, t * cols),
              t - f, cols));
        }
      }
    }
  }

  /** Floats [from, to) of {@code b} as a buffer of their own (native byte order). */
  private static ByteBuffer part(ByteBuffer b, int from, int to) {
    return b.slice(from * 4, (to - from) * 4).order(ByteOrder.nativeOrder());
  }

  /** {@code a} if it is laid out as the kernels read it, else a C-order copy. */
  private static INDArray plainFloat(INDArray a) {
    return plain(a) ? a : a.dup('c');
  }


  private static ByteBuffer output(INDArray a) {
    if (!plain(a)) {
      throw new IllegalArgumentException(OP_NAME + ": output must be float32 in c order");
    }
    return data(a);
  }

  private static boolean plain(INDArray a) {
    return a.ordering() == 'c' && a.offset() == 0 && Shape.hasDefaultStridesForShape(a);
  }

  private static ByteBuffer data(INDArray a) {
    if (a.dataType() != DataType.FLOAT) {
      throw new IllegalArgumentException(OP_NAME + ": float32 only, got " + a.dataType());
    }
    return a.data().asNio().order(ByteOrder.nativeOrder());
  }

  @Override
  public List<SDVariable> doDiff(List<SDVariable> gradients) {
    SDVariable dy = gradients.get(0);
    return switch (kernel()) {
      case GELU -> List.of(of(sameDiff, Kernel.GELU_BP, arg(0), outputVariable(), dy));
      case SILU -> List.of(of(sameDiff, Kernel.SILU_BP, arg(0), dy));
      case SOFTMAX -> List.of(of(sameDiff, Kernel.SOFTMAX_BP, outputVariable(), dy));
      case NORM -> List.of(of(sameDiff, Kernel.NORM_BP,
          java.util.Arrays.copyOfRange(iArgs(), 1, iArgs().length), arg(0), dy));
      // the labels are data: their gradient is never requested, so this zeros op never runs
      case XENT -> List.of(of(sameDiff, Kernel.XENT_BP, arg(0), arg(1), outputVariable(), dy),
          sameDiff.zerosLike(arg(1)));
      // integer labels: SameDiff differentiates floating-point paths only, so this never runs
      case XENT_IDS -> List.of(of(sameDiff, Kernel.XENT_IDS_BP, arg(0), arg(1), outputVariable(), dy),
          sameDiff.zerosLike(arg(1)));
      default -> throw new UnsupportedOperationException(OP_NAME + " " + kernel()
          + " has no gradient (use it behind a GradientCut)");
    };
  }

}
