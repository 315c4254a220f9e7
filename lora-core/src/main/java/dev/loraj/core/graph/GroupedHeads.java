package dev.loraj.core.graph;

import java.lang.ref.Reference;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.List;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.OpContext;
import org.nd4j.linalg.api.shape.LongShapeDescriptor;
import org.nd4j.linalg.api.shape.Shape;

/**
 * Grouped-query attention's key/value heads (Ainslie et al. 2023, arXiv 2305.13245) repeated for
 * the query heads, as transformers' {@code repeat_kv}: [b, s, kvHeads, d] to [b, s, kvHeads *
 * group, d], head j a copy of key/value head {@code j / group}; its backward pass sums each group
 * of {@code group} heads back into one (in head order, so a run gives the same bits every time).
 *
 * <p>Why: as {@code tile} of an expanded axis, libnd4j's {@code tile_bp} took 17 ms for one
 * [1, 256, 2, 7, 64] gradient in a Qwen2.5-0.5B step (48 calls, 0.8 s a step, more than the
 * step's attention products); this op's sum reads each element once.
 */
public final class GroupedHeads extends JavaComputedOp {
  static final String OP_NAME = "loraj_grouped_heads";
  private static final long REPEAT = 0;
  private static final long SUM = 1;

  /** For SameDiff's reflection (clones). */
  public GroupedHeads() {}

  private GroupedHeads(SameDiff sd, SDVariable x, long mode, long group) {
    super(sd, x);
    addIArgument(mode, group);
  }

  /** {@code x} [b, s, kvHeads, d] with every head repeated {@code group} times in place. */
  public static SDVariable repeat(SameDiff sd, SDVariable x, int group) {
    return of(sd, x, REPEAT, group);
  }

  private static SDVariable of(SameDiff sd, SDVariable x, long mode, long group) {
    if (group < 1) {
      throw new IllegalArgumentException(OP_NAME + ": group = " + group + ", must be >= 1");
    }
    register(OP_NAME, GroupedHeads::new);
    return new GroupedHeads(sd, x, mode, group).outputVariable();
  }

  private long mode() {
    return iArgs()[0];
  }

  private int group() {
    return (int) iArgs()[1];
  }

  @Override
  public String opName() {
    return OP_NAME;
  }

  @Override
  public List<LongShapeDescriptor> calculateOutputShape(OpContext oc) {
    long[] s = oc.getInputArray(0).shape().clone();
    if (s.length != 4 || mode() == SUM && s[2] % group() != 0) {
      throw new IllegalArgumentException(OP_NAME + ": expected [batch, seq, heads, d]"
          + (mode() == SUM ? " with heads a multiple of " + group() : "") + ", got "
          + java.util.Arrays.toString(s));
    }
    s[2] = mode() == REPEAT ? s[2] * group() : s[2] / group();
    return computeAndPublish(oc, s);
  }

  @Override
  protected boolean computesIntoOutput() {
    return true;
  }

  @Override
  protected void computeInto(List<INDArray> in, INDArray out) {
    if (!plain(out)) {
      throw new IllegalArgumentException(OP_NAME + ": output must be float32 in c order");
    }
    INDArray given = in.get(0);
    INDArray x = plain(given) ? given : given.castTo(DataType.FLOAT).dup('c');
    try {
      long[] s = x.shape();
      int rows = Math.toIntExact(s[0] * s[1]);
      int d = (int) s[3];
      int group = group();
      int kv = (int) (mode() == REPEAT ? s[2] : s[2] / group); // key/value heads
      FloatBuffer src = x.data().asNio().order(ByteOrder.nativeOrder()).asFloatBuffer();
      FloatBuffer dst = out.data().asNio().order(ByteOrder.nativeOrder()).asFloatBuffer();
      float[] head = new float[d];
      float[] acc = new float[d];
      for (int r = 0; r < rows; r++) {
        for (int g = 0; g < kv; g++) {
          int grouped = (r * kv + g) * group * d; // head g * group of row r, [.., kv * group, d]
          if (mode() == REPEAT) {
            src.get((r * kv + g) * d, head);
            for (int t = 0; t < group; t++) {
              dst.put(grouped + t * d, head);
            }
          } else {
            src.get(grouped, acc);
            for (int t = 1; t < group; t++) {
              src.get(grouped + t * d, head);
              for (int i = 0; i < d; i++) {
                acc[i] += head[i];
              }
            }
            dst.put((r * kv + g) * d, acc);
          }
        }
      }
    } finally {
      Reference.reachabilityFence(x);
      Reference.reachabilityFence(out);
      if (x != given) {
        x.close();
      }
    }
  }

  private static boolean plain(INDArray a) {
    return a.dataType() == DataType.FLOAT && a.ordering() == 'c' && a.offset() == 0
        && Shape.hasDefaultStridesForShape(a);
  }

  /** Repeating's gradient sums each group; summing's repeats. */
  @Override
  public List<SDVariable> doDiff(List<SDVariable> gradients) {
    return List.of(of(sameDiff, gradients.get(0), mode() == REPEAT ? SUM : REPEAT, group()));
  }
}
