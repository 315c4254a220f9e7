package dev.loraj.core.graph;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Elementwise and row kernels on float32 native buffers with the JDK's Vector API (incubator
 * module {@code jdk.incubator.vector}, Java 17). Loaded only when that module is present
 * ({@link dev.loraj.core.engine.Engine#vectorKernels()}); nothing else may refer to this class.
 *
 * <p>Why: libnd4j 1.0.0-M2.1 computes {@code exp} and {@code erf} one element at a time through
 * libm: 3.5 ms ({@code exp}) and 5-8 ms ({@code erf}) for 1.57 M floats on the benchmark machine,
 * where a 16-lane vector {@code exp} takes 0.67 ms and the rational {@code erf} below ~0.5 ms.
 * These functions sit in every attention softmax, GELU and SiLU of a transformer step.
 *
 * <p>{@code erf}: the minimax rational approximation of Eigen's {@code generic_fast_erf_float}
 * ({@code x P(x^2) / Q(x^2)} on [-4, 4], clamped outside), max abs error 4.5e-7 against commons-math's
 * {@code Erf.erf} over N(0, 9) inputs. {@code exp}: the Vector API's {@code EXP} lane operation.
 */
final class VectorMath {
  private VectorMath() {}

  private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
  private static final ByteOrder NATIVE = ByteOrder.nativeOrder();
  private static final FloatVector ONE = FloatVector.broadcast(S, 1f);
  private static final float INV_SQRT2 = (float) (1 / Math.sqrt(2));
  private static final float INV_SQRT_2PI = (float) (1 / Math.sqrt(2 * Math.PI));

  /**
   * Runs every kernel on small rows until the JIT has compiled it (~0.2 s, once per JVM). Vector
   * API code is only fast once C2 has compiled and inlined it; a kernel called once per training
   * step (the cross-entropy) otherwise ran its first steps interpreted or half-compiled.
   */
  static void warmUp() {
    int rows = 4;
    int cols = 64;
    int n = rows * cols;
    ByteBuffer a = ByteBuffer.allocateDirect(n * 4).order(NATIVE);
    ByteBuffer b = ByteBuffer.allocateDirect(n * 4).order(NATIVE);
    ByteBuffer c = ByteBuffer.allocateDirect(n * 4).order(NATIVE);
    ByteBuffer d = ByteBuffer.allocateDirect(n * 4).order(NATIVE);
    for (int i = 0; i < n; i++) {
      a.putFloat(i * 4, (i % 17) * 0.25f - 2f);
      b.putFloat(i * 4, (i % 5) == 0 ? 1f : 0f);
    }
    for (int it = 0; it < 12_000; it++) {
      gelu(a, c, n);
      geluBackward(a, c, b, d, n);
      silu(a, c, n);
      siluBackward(a, b, c, n);
      exp(a, c, n);
      softmaxRows(a, c, rows, cols);
      softmaxRowsBackward(c, b, d, rows, cols);
      crossEntropyRows(a, b, d, rows, cols);
      crossEntropyRowsBackward(a, b, d, c, c, rows, cols);
      crossEntropyIds(a, WARM_IDS, 0, d, rows, cols);
      crossEntropyIdsBackward(a, WARM_IDS, 0, d, c, c, rows, cols);
      columnSums(a, b, c, rows, cols, 0, cols);
      columnSums(a, c, rows, cols);
      normRows(a, c, rows, cols, 1e-5f, true);
      normRowsBackward(a, b, d, rows, cols, 1e-5f, true);
      normRows(a, c, rows, cols, 1e-6f, false);
      normRowsBackward(a, b, d, rows, cols, 1e-6f, false);
    }
  }

  /** Labels of the warm-up rows: columns and one ignored row. */
  private static final long[] WARM_IDS = {3, -100, 63, 0};

  private static FloatVector load(ByteBuffer b, int i) {
    return FloatVector.fromByteBuffer(S, b, i * 4, NATIVE);
  }

  private static final float LOG2E = 1.44269504088896341f;
  private static final float LN2_HI = 0.693359375f;
  private static final float LN2_LO = -2.12194440e-4f;
  private static final float ROUND = 12582912f; // 1.5 * 2^23: adding it rounds to an integer
  private static final int ROUND_BITS = 0x4B400000;
  private static final FloatVector NEG_LN2_HI = FloatVector.broadcast(S, -LN2_HI);
  private static final FloatVector NEG_LN2_LO = FloatVector.broadcast(S, -LN2_LO);
  private static final FloatVector P2 = FloatVector.broadcast(S, -2.10102402082508e-06f);
  private static final FloatVector P3 = FloatVector.broadcast(S, -5.69250639462346e-05f);
  private static final FloatVector P4 = FloatVector.broadcast(S, -7.34990630326855e-04f);
  private static final FloatVector P5 = FloatVector.broadcast(S, -2.95459980854025e-03f);
  private static final FloatVector P6 = FloatVector.broadcast(S, -1.60960333262415e-02f);
  private static final FloatVector Q2 = FloatVector.broadcast(S, -1.68282697438203e-03f);
  private static final FloatVector Q3 = FloatVector.broadcast(S, -7.37332916720468e-03f);
  private static final FloatVector Q4 = FloatVector.broadcast(S, -1.42647390514189e-02f);
  private static final FloatVector E2 = FloatVector.broadcast(S, 8.3334519073e-3f);
  private static final FloatVector E3 = FloatVector.broadcast(S, 4.1665795894e-2f);
  private static final FloatVector E4 = FloatVector.broadcast(S, 1.6666665459e-1f);
  private static final FloatVector E5 = FloatVector.broadcast(S, 5.0000001201e-1f);
  private static final float EXP_MIN = -87.33654f; // below: 0 (no subnormal results)
  private static final float EXP_MAX = 88f; // clamped: exp(88) = 1.65e38 < Float.MAX_VALUE

  /**
   * exp lane-wise: Cephes' {@code expf} (k = round(x / ln 2), a degree-6 polynomial of the
   * remainder, 2^k by exponent bits), ~1 ulp. Written with IEEE operations only (no
   * {@code VectorOperators.EXP}): the JIT's intrinsic and the interpreter's fallback of that
   * operation round differently, so a step would depend on whether the kernel had been compiled
   * yet. {@link #exp(float)} computes the same values for the tails.
   */
  static FloatVector exp(FloatVector x) {
    VectorMask<Float> under = x.compare(VectorOperators.LT, EXP_MIN);
    FloatVector v = x.max(EXP_MIN).min(EXP_MAX);
    FloatVector t = v.fma(LOG2E, ROUND);
    FloatVector k = t.sub(ROUND);
    FloatVector r = k.fma(NEG_LN2_HI, v);
    r = k.fma(NEG_LN2_LO, r);
    FloatVector p = r.fma(1.9875691500e-4f, 1.3981999507e-3f);
    p = p.fma(r, E2);
    p = p.fma(r, E3);
    p = p.fma(r, E4);
    p = p.fma(r, E5);
    p = p.fma(r.mul(r), r).add(1f);
    FloatVector scale = t.reinterpretAsInts().sub(ROUND_BITS - 127)
        .lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats();
    return p.mul(scale).blend(0f, under);
  }

  /** The scalar twin of {@link #exp(FloatVector)}: the same operations, the same results. */
  static float exp(float x) {
    if (x < EXP_MIN) {
      return 0f;
    }
    float v = Math.min(x, EXP_MAX);
    float t = Math.fma(v, LOG2E, ROUND);
    float k = t - ROUND;
    float r = Math.fma(k, -LN2_HI, v);
    r = Math.fma(k, -LN2_LO, r);
    float p = Math.fma(r, 1.9875691500e-4f, 1.3981999507e-3f);
    p = Math.fma(p, r, 8.3334519073e-3f);
    p = Math.fma(p, r, 4.1665795894e-2f);
    p = Math.fma(p, r, 1.6666665459e-1f);
    p = Math.fma(p, r, 5.0000001201e-1f);
    p = Math.fma(p, r * r, r) + 1f;
    return p * Float.intBitsToFloat((Float.floatToRawIntBits(t) - (ROUND_BITS - 127)) << 23);
  }

  /** Sum of the lanes in lane order (VectorOperators.ADD's order is unspecified). */
  private static float sum(FloatVector v, float[] lanes) {
    v.intoArray(lanes, 0);
    float s = 0;
    for (float l : lanes) {
      s += l;
    }
    return s;
  }

  /** erf(v) lane-wise (see the class comment). */
  private static FloatVector erf(FloatVector v) {
    FloatVector x = v.max(-4f).min(4f);
    FloatVector x2 = x.mul(x);
    FloatVector p = x2.fma(-2.72614225801306e-10f, 2.77068142495902e-08f);
    p = p.fma(x2, P2);
    p = p.fma(x2, P3);
    p = p.fma(x2, P4);
    p = p.fma(x2, P5);
    p = p.fma(x2, P6);
    p = p.mul(x);
    FloatVector q = x2.fma(-1.45660718464996e-05f, -2.13374055278905e-04f);
    q = q.fma(x2, Q2);
    q = q.fma(x2, Q3);
    q = q.fma(x2, Q4);
    return p.div(q);
  }

  private static float erf(float v) {
    float x = Math.max(-4f, Math.min(4f, v));
    float x2 = x * x;
    float p = Math.fma(x2, -2.72614225801306e-10f, 2.77068142495902e-08f);
    p = Math.fma(p, x2, -2.10102402082508e-06f);
    p = Math.fma(p, x2, -5.69250639462346e-05f);
    p = Math.fma(p, x2, -7.34990630326855e-04f);
    p = Math.fma(p, x2, -2.95459980854025e-03f);
    p = Math.fma(p, x2, -1.60960333262415e-02f);
    p *= x;
    float q = Math.fma(x2, -1.45660718464996e-05f, -2.13374055278905e-04f);
    q = Math.fma(q, x2, -1.68282697438203e-03f);
    q = Math.fma(q, x2, -7.37332916720468e-03f);
    q = Math.fma(q, x2, -1.42647390514189e-02f);
    return p / q;
  }

  /** GELU (exact): {@code y = x Phi(x)}, {@code Phi(x) = (1 + erf(x / sqrt 2)) / 2}. */
  static void gelu(ByteBuffer x, ByteBuffer y, int n) {
    int i = 0;
    for (int end = S.loopBound(n); i < end; i += S.length()) {
      FloatVector v = load(x, i);
      FloatVector phi = erf(v.mul(INV_SQRT2)).add(1f).mul(0.5f);
      v.mul(phi).intoByteBuffer(y, i * 4, NATIVE);
    }
    for (; i < n; i++) {
      float v = x.getFloat(i * 4);
      y.putFloat(i * 4, v * 0.5f * (1f + erf(v * INV_SQRT2)));
    }
  }

  /**
   * GELU's backward, {@code dx = dy (Phi(x) + x phi(x))}, {@code phi} the normal density, with
   * {@code Phi(x) = y / x} from the forward output {@code y = x Phi(x)} (0.5 where |x| < 1e-30):
   * one division instead of erf's rational function.
   */
  static void geluBackward(ByteBuffer x, ByteBuffer y, ByteBuffer dy, ByteBuffer dx, int n) {
    int i = 0;
    for (int end = S.loopBound(n); i < end; i += S.length()) {
      FloatVector v = load(x, i);
      FloatVector cdf = load(y, i).div(v).blend(0.5f, v.abs().compare(VectorOperators.LT, 1e-30f));
      FloatVector pdf = exp(v.mul(v).mul(-0.5f)).mul(INV_SQRT_2PI);
      load(dy, i).mul(v.fma(pdf, cdf)).intoByteBuffer(dx, i * 4, NATIVE);
    }
    for (; i < n; i++) {
      float v = x.getFloat(i * 4);
      float cdf = Math.abs(v) < 1e-30f ? 0.5f : y.getFloat(i * 4) / v;
      float pdf = exp(v * v * -0.5f) * INV_SQRT_2PI;
      dx.putFloat(i * 4, dy.getFloat(i * 4) * Math.fma(v, pdf, cdf));
    }
  }

  /** SiLU: {@code y = x s}, {@code s = 1 / (1 + exp(-x))}. */
  static void silu(ByteBuffer x, ByteBuffer y, int n) {
    int i = 0;
    for (int end = S.loopBound(n); i < end; i += S.length()) {
      FloatVector v = load(x, i);
      FloatVector s = ONE.div(exp(v.neg()).add(1f));
      v.mul(s).intoByteBuffer(y, i * 4, NATIVE);
    }
    for (; i < n; i++) {
      float v = x.getFloat(i * 4);
      y.putFloat(i * 4, v / (1f + exp(-v)));
    }
  }

  /** SiLU's backward: {@code dx = dy s (1 + x (1 - s))}. */
  static void siluBackward(ByteBuffer x, ByteBuffer dy, ByteBuffer dx, int n) {
    int i = 0;
    for (int end = S.loopBound(n); i < end; i += S.length()) {
      FloatVector v = load(x, i);
      FloatVector s = ONE.div(exp(v.neg()).add(1f));
      FloatVector g = s.mul(v.mul(s.neg().add(1f)).add(1f));
      load(dy, i).mul(g).intoByteBuffer(dx, i * 4, NATIVE);
    }
    for (; i < n; i++) {
      float v = x.getFloat(i * 4);
      float s = 1f / (1f + exp(-v));
      dx.putFloat(i * 4, dy.getFloat(i * 4) * s * (1f + v * (1f - s)));
    }
  }

  /** {@code y = exp(x)} elementwise. */
  static void exp(ByteBuffer x, ByteBuffer y, int n) {
    int i = 0;
    for (int end = S.loopBound(n); i < end; i += S.length()) {
      exp(load(x, i)).intoByteBuffer(y, i * 4, NATIVE);
    }
    for (; i < n; i++) {
      y.putFloat(i * 4, exp(x.getFloat(i * 4)));
    }
  }

  /** Softmax of each row of {@code x} [rows, cols] (c order) into {@code y}. */
  static void softmaxRows(ByteBuffer x, ByteBuffer y, int rows, int cols) {
    float[] lanes = new float[S.length()];
    int end = S.loopBound(cols);
    for (int r = 0, base = 0; r < rows; r++, base += cols) {
      float max = rowMax(x, base, cols, end);
      int j;
      float sum = 0;
      FloatVector acc = FloatVector.zero(S);
      for (j = 0; j < end; j += S.length()) {
        FloatVector e = exp(load(x, base + j).sub(max));
        e.intoByteBuffer(y, (base + j) * 4, NATIVE);
        acc = acc.add(e);
      }
      sum += sum(acc, lanes);
      for (; j < cols; j++) {
        float e = exp(x.getFloat((base + j) * 4) - max);
        y.putFloat((base + j) * 4, e);
        sum += e;
      }
      float inv = 1f / sum;
      for (j = 0; j < end; j += S.length()) {
        load(y, base + j).mul(inv).intoByteBuffer(y, (base + j) * 4, NATIVE);
      }
      for (; j < cols; j++) {
        y.putFloat((base + j) * 4, y.getFloat((base + j) * 4) * inv);
      }
    }
  }

  /** Softmax's backward per row: {@code dx = y (dy - <dy, y>)}. */
  static void softmaxRowsBackward(ByteBuffer y, ByteBuffer dy, ByteBuffer dx, int rows, int cols) {
    float[] lanes = new float[S.length()];
    int end = S.loopBound(cols);
    for (int r = 0, base = 0; r < rows; r++, base += cols) {
      FloatVector acc = FloatVector.zero(S);
      int j = 0;
      for (; j < end; j += S.length()) {
        acc = load(dy, base + j).fma(load(y, base + j), acc);
      }
      float dot = sum(acc, lanes);
      for (; j < cols; j++) {
        dot += dy.getFloat((base + j) * 4) * y.getFloat((base + j) * 4);
      }
      for (j = 0; j < end; j += S.length()) {
        load(dy, base + j).sub(dot).mul(load(y, base + j)).intoByteBuffer(dx, (base + j) * 4, NATIVE);
      }
      for (; j < cols; j++) {
        int o = (base + j) * 4;
        dx.putFloat(o, (dy.getFloat(o) - dot) * y.getFloat(o));
      }
    }
  }
  /** max over entries [base, base + cols) of {@code x}. */
  private static float rowMax(ByteBuffer x, int base, int cols, int end) {
    float max = Float.NEGATIVE_INFINITY;
    int j = 0;
    if (end > 0) {
      FloatVector m = load(x, base);
      for (j = S.length(); j < end; j += S.length()) {
        m = m.max(load(x, base + j));
      }
      max = m.reduceLanes(VectorOperators.MAX);
    }
    for (; j < cols; j++) {
      max = Math.max(max, x.getFloat((base + j) * 4));
    }
    return max;
  }

  /**
   * Per row of logits {@code x} and label weights {@code y} [rows, cols] into {@code out} [rows, 3]:
   * {@code sum_j y_j log softmax(x)_j = <y, x> - lse sum_j y_j}, then {@code lse = log sum_j
   * exp(x_j)} and {@code sum_j y_j}, which the backward pass reads instead of recomputing them.
   */
  static void crossEntropyRows(ByteBuffer x, ByteBuffer y, ByteBuffer out, int rows, int cols) {
    float[] lanes = new float[S.length()];
    int end = S.loopBound(cols);
    for (int r = 0, base = 0; r < rows; r++, base += cols) {
      float max = rowMax(x, base, cols, end);
      FloatVector acc = FloatVector.zero(S);
      FloatVector dot = FloatVector.zero(S);
      FloatVector mass = FloatVector.zero(S);
      int j = 0;
      for (; j < end; j += S.length()) {
        FloatVector xv = load(x, base + j);
        FloatVector yv = load(y, base + j);
        acc = acc.add(exp(xv.sub(max)));
        dot = yv.fma(xv, dot);
        mass = mass.add(yv);
      }
      float sum = sum(acc, lanes);
      float d = sum(dot, lanes);
      float m = sum(mass, lanes);
      for (; j < cols; j++) {
        float xv = x.getFloat((base + j) * 4);
        float yv = y.getFloat((base + j) * 4);
        sum += exp(xv - max);
        d += yv * xv;
        m += yv;
      }
      float lse = (float) StrictMath.log(sum) + max;
      out.putFloat(r * 12, d - lse * m);
      out.putFloat(r * 12 + 4, lse);
      out.putFloat(r * 12 + 8, m);
    }
  }

  /**
   * The backward pass of {@link #crossEntropyRows} for upstream {@code dy} [rows, 3] (column 0
   * counts) given its output {@code fwd}: {@code dx_j = dy (y_j - exp(x_j - lse) sum_k y_k)}.
   */
  static void crossEntropyRowsBackward(ByteBuffer x, ByteBuffer y, ByteBuffer fwd, ByteBuffer dy,
      ByteBuffer dx, int rows, int cols) {
    int end = S.loopBound(cols);
    for (int r = 0, base = 0; r < rows; r++, base += cols) {
      float lse = fwd.getFloat(r * 12 + 4);
      float m = fwd.getFloat(r * 12 + 8);
      float g = dy.getFloat(r * 12);
      int j = 0;
      for (; j < end; j += S.length()) {
        FloatVector p = exp(load(x, base + j).sub(lse));
        load(y, base + j).sub(p.mul(m)).mul(g).intoByteBuffer(dx, (base + j) * 4, NATIVE);
      }
      for (; j < cols; j++) {
        int o = (base + j) * 4;
        float p = exp(x.getFloat(o) - lse);
        dx.putFloat(o, g * (y.getFloat(o) - p * m));
      }
    }
  }
  /**
   * Per row of logits {@code x} [rows, cols] and its label {@code ids[r]} (a column, or a negative
   * value: ignored) into {@code out} [rows, 3]: {@code log softmax(x)_label = x_label - lse},
   * {@code lse = log sum_j exp(x_j)} and 1 (0, 0 and 0 for an ignored row). The same values as
   * {@link #crossEntropyRows} with a one-hot row, without reading one: with a one-hot {@code y},
   * {@code <y, x> = x_label} and {@code sum_j y_j = 1} exactly.
   */
  static void crossEntropyIds(ByteBuffer x, long[] ids, int idFrom, ByteBuffer out, int rows, int cols) {
    float[] lanes = new float[S.length()];
    int end = S.loopBound(cols);
    for (int r = 0, base = 0; r < rows; r++, base += cols) {
      long label = ids[idFrom + r];
      if (label < 0) {
        out.putFloat(r * 12, 0f);
        out.putFloat(r * 12 + 4, 0f);
        out.putFloat(r * 12 + 8, 0f);
        continue;
      }
      float max = rowMax(x, base, cols, end);
      FloatVector acc = FloatVector.zero(S);
      int j = 0;
      for (; j < end; j += S.length()) {
        acc = acc.add(exp(load(x, base + j).sub(max)));
      }
      float sum = sum(acc, lanes);
      for (; j < cols; j++) {
        sum += exp(x.getFloat((base + j) * 4) - max);
      }
      float lse = (float) StrictMath.log(sum) + max;
      out.putFloat(r * 12, x.getFloat((base + (int) label) * 4) - lse);
      out.putFloat(r * 12 + 4, lse);
      out.putFloat(r * 12 + 8, 1f);
    }
  }

  /**
   * The backward pass of {@link #crossEntropyIds} for upstream {@code dy} [rows, 3] (column 0
   * counts) given its output {@code fwd}, written straight into {@code dx} [rows, cols]:
   * {@code dx_j = dy (onehot_j - exp(x_j - lse))}, zeros for an ignored row.
   */
  static void crossEntropyIdsBackward(ByteBuffer x, long[] ids, int idFrom, ByteBuffer fwd, ByteBuffer dy,
      ByteBuffer dx, int rows, int cols) {
    int end = S.loopBound(cols);
    FloatVector zero = FloatVector.zero(S);
    for (int r = 0, base = 0; r < rows; r++, base += cols) {
      long label = ids[idFrom + r];
      int j = 0;
      if (label < 0) {
        for (; j < end; j += S.length()) {
          zero.intoByteBuffer(dx, (base + j) * 4, NATIVE);
        }
        for (; j < cols; j++) {
          dx.putFloat((base + j) * 4, 0f);
        }
        continue;
      }
      float lse = fwd.getFloat(r * 12 + 4);
      float g = dy.getFloat(r * 12);
      float ng = -g;
      for (; j < end; j += S.length()) {
        exp(load(x, base + j).sub(lse)).mul(ng).intoByteBuffer(dx, (base + j) * 4, NATIVE);
      }
      for (; j < cols; j++) {
        int o = (base + j) * 4;
        dx.putFloat(o, exp(x.getFloat(o) - lse) * ng);
      }
      int o = (base + (int) label) * 4;
      dx.putFloat(o, g * (1f - exp(x.getFloat(o) - lse)));
    }
  }

  /**
   * One vocabulary chunk of an online softmax, in place: for each row r of logits {@code x}
   * [rows, cols] whose label {@code ids[r]} counts, the running maximum becomes
   * {@code m = max(max[r], max_j x_j)}, {@code alpha[r] = exp(max[r] - m)} (0 before the first
   * chunk, {@code sum[r] = 0}) rescales what was summed so far, {@code x_j <- exp(x_j - m)} and
   * {@code sum[r] <- sum[r] alpha[r] + sum_j x_j}. An ignored row becomes zeros, its alpha 1.
   */
  static void onlineSoftmaxChunk(ByteBuffer x, long[] ids, int rows, int cols, float[] max, float[] sum,
      float[] alpha) {
    float[] lanes = new float[S.length()];
    int end = S.loopBound(cols);
    FloatVector zero = FloatVector.zero(S);
    for (int r = 0, base = 0; r < rows; r++, base += cols) {
      int j = 0;
      if (ids[r] < 0) {
        for (; j < end; j += S.length()) {
          zero.intoByteBuffer(x, (base + j) * 4, NATIVE);
        }
        for (; j < cols; j++) {
          x.putFloat((base + j) * 4, 0f);
        }
        alpha[r] = 1f;
        continue;
      }
      float m = Math.max(max[r], rowMax(x, base, cols, end));
      FloatVector acc = FloatVector.zero(S);
      for (; j < end; j += S.length()) {
        FloatVector e = exp(load(x, base + j).sub(m));
        e.intoByteBuffer(x, (base + j) * 4, NATIVE);
        acc = acc.add(e);
      }
      float s = sum(acc, lanes);
      for (; j < cols; j++) {
        float e = exp(x.getFloat((base + j) * 4) - m);
        x.putFloat((base + j) * 4, e);
        s += e;
      }
      alpha[r] = sum[r] == 0f ? 0f : exp(max[r] - m);
      sum[r] = sum[r] * alpha[r] + s;
      max[r] = m;
    }
  }

  /** Column sums of {@code a} [rows, cols] (c order) into {@code out} [cols], rows in order. */
  static void columnSums(ByteBuffer a, ByteBuffer out, int rows, int cols) {
    columnSums(a, null, out, rows, cols, 0, cols);
  }

  /**
   * Column sums of {@code a * b} (elementwise; {@code b == null}: of {@code a}) over rows
   * [rows, cols] into {@code out} [cols], for the columns [from, to) ({@code from} a multiple of
   * the vector width, so a column takes the same path whatever the range): a broadcast row
   * weight's gradient. Rows are added in order, lane by lane, so the result does not depend on
   * vector width, JIT state or how the columns are split.
   */
  static void columnSums(ByteBuffer a, ByteBuffer b, ByteBuffer out, int rows, int cols, int from, int to) {
    int end = from + S.loopBound(to - from);
    int j = from;
    for (; j < end; j += S.length()) {
      FloatVector acc = FloatVector.zero(S);
      for (int r = 0, base = 0; r < rows; r++, base += cols) {
        FloatVector v = load(a, base + j);
        acc = b == null ? acc.add(v) : v.fma(load(b, base + j), acc);
      }
      acc.intoByteBuffer(out, j * 4, NATIVE);
    }
    for (; j < to; j++) {
      float acc = 0;
      for (int r = 0, base = 0; r < rows; r++, base += cols) {
        float v = a.getFloat((base + j) * 4);
        acc = b == null ? acc + v : Math.fma(v, b.getFloat((base + j) * 4), acc);
      }
      out.putFloat(j * 4, acc);
    }
  }

  /**
   * Row normalisation of x [rows, cols] into y: LayerNorm's {@code (x - mean) / sqrt(var + eps)}
   * (biased variance) when {@code centred}, else RMSNorm's {@code x / sqrt(mean(x^2) + eps)}. Each
   * row's statistics are taken in two passes over the row (mean, then the centred squares), as
   * {@link RowNorm}'s op chain takes them.
   */
  static void normRows(ByteBuffer x, ByteBuffer y, int rows, int cols, float eps, boolean centred) {
    float[] lanes = new float[S.length()];
    int end = S.loopBound(cols);
    for (int r = 0, base = 0; r < rows; r++, base += cols) {
      float mean = centred ? rowSum(x, base, cols, end, lanes) / cols : 0f;
      float inv = inverseSigma(x, base, cols, end, mean, eps, lanes);
      int j = 0;
      for (; j < end; j += S.length()) {
        load(x, base + j).sub(mean).mul(inv).intoByteBuffer(y, (base + j) * 4, NATIVE);
      }
      for (; j < cols; j++) {
        y.putFloat((base + j) * 4, (x.getFloat((base + j) * 4) - mean) * inv);
      }
    }
  }

  /**
   * The backward pass of {@link #normRows}: with n the normalised row and sigma its divisor
   * (both recomputed from x), LayerNorm {@code dx = (dn - <dn> - n <dn n>) / sigma}, RMSNorm
   * {@code dx = (dn - n <dn n>) / sigma}, {@code <.>} the row mean.
   */
  static void normRowsBackward(ByteBuffer x, ByteBuffer dn, ByteBuffer dx, int rows, int cols,
      float eps, boolean centred) {
    float[] lanes = new float[S.length()];
    int end = S.loopBound(cols);
    for (int r = 0, base = 0; r < rows; r++, base += cols) {
      float mean = centred ? rowSum(x, base, cols, end, lanes) / cols : 0f;
      float inv = inverseSigma(x, base, cols, end, mean, eps, lanes);
      FloatVector sumDn = FloatVector.zero(S);
      FloatVector sumDnN = FloatVector.zero(S);
      int j = 0;
      for (; j < end; j += S.length()) {
        FloatVector g = load(dn, base + j);
        sumDn = sumDn.add(g);
        sumDnN = g.fma(load(x, base + j).sub(mean).mul(inv), sumDnN);
      }
      float a = sum(sumDn, lanes);
      float b = sum(sumDnN, lanes);
      for (; j < cols; j++) {
        float g = dn.getFloat((base + j) * 4);
        a += g;
        b += g * (x.getFloat((base + j) * 4) - mean) * inv;
      }
      float meanDn = centred ? a / cols : 0f;
      float meanDnN = b / cols;
      for (j = 0; j < end; j += S.length()) {
        FloatVector n = load(x, base + j).sub(mean).mul(inv);
        load(dn, base + j).sub(meanDn).sub(n.mul(meanDnN)).mul(inv)
            .intoByteBuffer(dx, (base + j) * 4, NATIVE);
      }
      for (; j < cols; j++) {
        float n = (x.getFloat((base + j) * 4) - mean) * inv;
        dx.putFloat((base + j) * 4, (dn.getFloat((base + j) * 4) - meanDn - n * meanDnN) * inv);
      }
    }
  }

  /** Sum of the entries [base, base + cols) of {@code x}. */
  private static float rowSum(ByteBuffer x, int base, int cols, int end, float[] lanes) {
    FloatVector acc = FloatVector.zero(S);
    int j = 0;
    for (; j < end; j += S.length()) {
      acc = acc.add(load(x, base + j));
    }
    float s = sum(acc, lanes);
    for (; j < cols; j++) {
      s += x.getFloat((base + j) * 4);
    }
    return s;
  }

  /** {@code 1 / sqrt(<(x - mean)^2> + eps)} over the entries [base, base + cols) of {@code x}. */
  private static float inverseSigma(ByteBuffer x, int base, int cols, int end, float mean, float eps,
      float[] lanes) {
    FloatVector acc = FloatVector.zero(S);
    int j = 0;
    for (; j < end; j += S.length()) {
      FloatVector c = load(x, base + j).sub(mean);
      acc = c.fma(c, acc);
    }
    float s = sum(acc, lanes);
    for (; j < cols; j++) {
      float c = x.getFloat((base + j) * 4) - mean;
      s += c * c;
    }
    return 1f / (float) Math.sqrt(s / cols + eps);
  }

  /** Floats per vector: parts of a split kernel start at multiples of it. */
  static int lanes() {
    return S.length();
  }
}
