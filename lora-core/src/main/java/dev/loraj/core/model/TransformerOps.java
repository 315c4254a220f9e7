package dev.loraj.core.model;

import dev.loraj.core.engine.Engine;
import dev.loraj.core.graph.BatchedMatMul;
import dev.loraj.core.graph.FrozenAdd;
import dev.loraj.core.graph.FrozenMatMul;
import dev.loraj.core.graph.FrozenMultiply;
import dev.loraj.core.graph.GroupedHeads;
import dev.loraj.core.graph.RowNorm;
import dev.loraj.core.graph.VectorKernelOp;
import java.util.function.UnaryOperator;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Graph building blocks shared by the transformer families (GPT-2, Llama, ...), written with the
 * SameDiff ops of ND4J 1.0.0-M2.1 so that they match the PyTorch reference (transformers' eager
 * attention) to float32 rounding.
 *
 * <p>Layout convention: the hidden state is kept 2-D, {@code [batch * seq, hidden]}, which is the
 * shape {@link ModelGraph#linear} wants; attention reshapes to {@code [batch, heads, seq, dim]}
 * with the dynamic batch and sequence sizes read from the {@code input_ids} placeholder
 * ({@link Seq}).
 */
public final class TransformerOps {
  private TransformerOps() {}

  /** Masked attention scores: added before the softmax, so exp() underflows to exactly 0. */
  static final double MASKED = -1e9;

  /** The dynamic sizes of a token batch, taken from the {@code input_ids} placeholder [b, s]. */
  public record Seq(SameDiff sd, SDVariable ids, SDVariable shape, SDVariable length) {

    /** {@code ids}: an integer placeholder [batch, seq]. */
    public static Seq of(SameDiff sd, SDVariable ids) {
      SDVariable shape = sd.shape(ids).castTo(DataType.INT64); // [2]: batch, seq
      SDVariable length = sd.sizeAt(ids, 1).castTo(DataType.INT64); // scalar seq
      return new Seq(sd, ids, shape, length);
    }

    /** Positions 0..seq-1 as INT64 [seq]. */
    public SDVariable positions() {
      return sd.range(
          sd.constant(Nd4j.scalar(0L)), length, sd.constant(Nd4j.scalar(1L)), DataType.INT64);
    }

    /** The shape vector {@code [batch, seq, dims...]} (INT64) for a dynamic reshape. */
    public SDVariable shapeWith(long... dims) {
      return sd.concat(0, shape, sd.constant(Nd4j.createFromArray(dims)));
    }
  }

  /** Token embeddings [batch * seq, hidden] plus learned positions (rows 0..seq-1 of the table). */
  public static SDVariable addPositions(Seq seq, SDVariable tokens, SDVariable positionTable) {
    SameDiff sd = seq.sd();
    long hidden = positionTable.getShape()[1];
    SDVariable h = sd.reshape(tokens, seq.shapeWith(hidden)).add(sd.gather(positionTable, seq.positions(), 0));
    return sd.reshape(h, -1, hidden);
  }

  /**
   * LayerNorm over the last axis, as torch: {@code (x - mean) / sqrt(var + eps) * gain + bias}
   * with the biased variance. x [n, e].
   */
  public static SDVariable layerNorm(SameDiff sd, SDVariable x, SDVariable gain, SDVariable bias,
      double eps, boolean training) {
    SDVariable y = FrozenMultiply.byWeight(sd,
        RowNorm.layerNorm(sd, x, eps, training, lastDim(gain)), gain);
    return bias == null ? y : FrozenAdd.byWeight(sd, y, bias);
  }

  /**
   * RMSNorm (Zhang and Sennrich 2019, arXiv 1910.07467) as Llama's:
   * {@code x * rsqrt(mean(x^2) + eps) * weight}. x [n, e].
   */
  public static SDVariable rmsNorm(SameDiff sd, SDVariable x, SDVariable weight, double eps,
      boolean training) {
    return FrozenMultiply.byWeight(sd, RowNorm.rms(sd, x, eps, training, lastDim(weight)), weight);
  }

  /** The last dimension of a variable with a known shape (a weight), else 0. */
  private static long lastDim(SDVariable v) {
    long[] s = v.getShape();
    return s != null && s.length > 0 && s[s.length - 1] > 0 ? s[s.length - 1] : 0;
  }

  /** Activations by their transformers names ({@code ACT2FN}). */
  public static SDVariable activation(SameDiff sd, String name, SDVariable x) {
    return switch (name) {
      // gelu_new / gelu_pytorch_tanh: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
      case "gelu_new", "gelu_pytorch_tanh", "gelu_fast" -> {
        SDVariable inner = x.add(sd.math().pow(x, 3).mul(0.044715)).mul(Math.sqrt(2 / Math.PI));
        yield x.mul(0.5).mul(sd.math().tanh(inner).add(1.0));
      }
      // exact gelu: 0.5 x (1 + erf(x / sqrt 2))
      case "gelu" -> VectorKernelOp.gelu(sd, x);
      case "silu", "swish" -> VectorKernelOp.silu(sd, x);
      case "relu" -> sd.nn().relu(x, 0);
      case "tanh" -> sd.math().tanh(x);
      default -> throw new IllegalArgumentException(
          "activation '" + name + "' is not supported; accepted: gelu_new, gelu_pytorch_tanh,"
              + " gelu_fast, gelu, silu, swish, relu, tanh");
    };
  }

  /**
   * Rotary position embedding (Su et al. 2021, arXiv 2104.09864) in the "rotate half" form of
   * transformers' Llama: {@code x cos + rotate_half(x) sin}, angles {@code pos * theta^(-2i/d)}.
   *
   * @param cos [seq, dim] as built by {@link #ropeTables}
   */
  public record Rope(SDVariable cos, SDVariable sin, SDVariable rotateHalf, int dim) {

    /** x [b, s, heads, dim] -> same shape, rotated. */
    SDVariable apply(SameDiff sd, Seq seq, SDVariable x, int heads) {
      SDVariable cos4 = sd.expandDims(sd.expandDims(cos, 0), 2); // [1, s, 1, d]
      SDVariable sin4 = sd.expandDims(sd.expandDims(sin, 0), 2);
      // rotate_half as an exact signed permutation: [n, d] x [d, d]
      SDVariable rotated = sd.reshape(
          FrozenMatMul.apply(sd, sd.reshape(x, -1, dim), rotateHalf, false), seq.shapeWith(heads, dim));
      // the tables are functions of positions only: no gradient for them (FrozenMultiply)
      return FrozenMultiply.apply(sd, x, cos4).add(FrozenMultiply.apply(sd, rotated, sin4));
    }
  }

  /** cos and sin tables [seq, dim] for the current sequence length. */
  public static Rope ropeTables(Seq seq, int dim, float[] invFreq) {
    SameDiff sd = seq.sd();
    SDVariable pos = sd.reshape(seq.positions().castTo(DataType.FLOAT), -1, 1); // [s, 1]
    SDVariable angles = pos.mul(sd.constant(Nd4j.create(invFreq, new long[] {1, dim / 2}, 'c')));
    SDVariable emb = sd.concat(1, angles, angles); // [s, d]
    INDArray r = Nd4j.zeros(DataType.FLOAT, dim, dim);
    int half = dim / 2;
    for (int j = 0; j < half; j++) {
      r.putScalar(j + half, j, -1f); // out[j] = -x[j + d/2]
      r.putScalar(j, j + half, 1f); // out[j + d/2] = x[j]
    }
    return new Rope(sd.math().cos(emb), sd.math().sin(emb), sd.constant(r), dim);
  }

  /** Additive causal mask [seq, seq]: 0 on and below the diagonal, {@link #MASKED} above. */
  public static SDVariable causalMask(Seq seq) {
    return causalMask(seq, 0);
  }

  /**
   * Causal mask that also hides keys {@code window} or more positions back (Mistral's sliding
   * window: query i sees keys j with {@code 0 <= i - j < window}); {@code window <= 0}: none.
   */
  public static SDVariable causalMask(Seq seq, int window) {
    SameDiff sd = seq.sd();
    SDVariable pos = seq.positions().castTo(DataType.FLOAT);
    SDVariable rows = sd.reshape(pos, -1, 1);
    SDVariable cols = sd.reshape(pos, 1, -1);
    SDVariable hidden = cols.gt(rows).castTo(DataType.FLOAT); // [s, s]: key after query
    if (window > 0) {
      SDVariable tooFar = rows.sub(cols).gt(window - 0.5).castTo(DataType.FLOAT);
      hidden = hidden.add(tooFar);
    }
    return hidden.mul(MASKED);
  }

  /** Shape of one attention layer. */
  public record AttentionShape(int heads, int kvHeads, int headDim) {
    public AttentionShape {
      if (heads <= 0 || kvHeads <= 0 || headDim <= 0 || heads % kvHeads != 0) {
        throw new IllegalArgumentException(
            "attention with " + heads + " heads, " + kvHeads + " key/value heads and head_dim "
                + headDim + ": heads must be a positive multiple of the key/value heads");
      }
    }
  }

  /**
   * Causal multi-head attention with grouped key/value heads (Ainslie et al. 2023, arXiv
   * 2305.13245), as transformers' eager path: {@code softmax(scale(q k^T) + mask) v}.
   *
   * @param q [b*s, heads*dim]
   * @param k [b*s, kvHeads*dim]
   * @param v [b*s, kvHeads*dim]
   * @param scale applied to the raw scores [b, heads, s, s] before the mask
   * @param rope rotary embedding for q and k, or null
   * @return [b*s, heads*dim]
   */
  public static SDVariable causalAttention(Seq seq, SDVariable q, SDVariable k, SDVariable v,
      AttentionShape shape, UnaryOperator<SDVariable> scale, Rope rope, SDVariable mask) {
    SameDiff sd = seq.sd();
    int h = shape.heads();
    int kvh = shape.kvHeads();
    int d = shape.headDim();
    SDVariable q4 = sd.reshape(q, seq.shapeWith(h, d)); // [b, s, h, d]
    SDVariable k4 = sd.reshape(k, seq.shapeWith(kvh, d)); // [b, s, kvh, d]
    SDVariable v4 = sd.reshape(v, seq.shapeWith(kvh, d));
    if (rope != null) {
      q4 = rope.apply(sd, seq, q4, h);
      k4 = rope.apply(sd, seq, k4, kvh);
    }
    if (kvh != h) {
      // head j uses key/value head j / (h / kvh), as transformers' repeat_kv
      int rep = h / kvh;
      if (Engine.current().hostKernels()) {
        k4 = GroupedHeads.repeat(sd, k4, rep);
        v4 = GroupedHeads.repeat(sd, v4, rep);
      } else {
        k4 = sd.reshape(sd.tile(sd.expandDims(k4, 3), 1, 1, 1, rep, 1), seq.shapeWith(h, d));
        v4 = sd.reshape(sd.tile(sd.expandDims(v4, 3), 1, 1, 1, rep, 1), seq.shapeWith(h, d));
      }
    }
    SDVariable qh = sd.permute(q4, 0, 2, 1, 3); // [b, h, s, d]
    SDVariable kh = sd.permute(k4, 0, 2, 1, 3);
    SDVariable vh = sd.permute(v4, 0, 2, 1, 3);
    SDVariable scores = scale.apply(BatchedMatMul.of(sd, qh, kh, false, true)); // [b, h, s, s]
    // the mask is data: FrozenAdd, no add_bp reducing [b, h, s, s] into it
    SDVariable probs = VectorKernelOp.softmaxLastAxis(sd, FrozenAdd.apply(sd, scores, mask), 4);
    SDVariable out = BatchedMatMul.of(sd, probs, vh, false, false); // [b, h, s, d]
    return sd.reshape(sd.permute(out, 0, 2, 1, 3), -1, (long) h * d); // [b*s, h*d]
  }

  /** Columns [from, from + width) of a 2-D variable [n, c] (GPT-2's fused q/k/v). */
  public static SDVariable columns(SameDiff sd, SDVariable x, long from, long width) {
    return sd.stridedSlice(x, new long[] {0, from}, new long[] {0, from + width},
        new long[] {1, 1}, 1, 1, 0, 0, 0);
  }
}
