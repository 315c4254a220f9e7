package dev.loraj.core.linalg;

import java.util.Random;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.ops.transforms.Transforms;

/** Test helpers: seeded matrices and error measures. */
final class Matrices {
  private Matrices() {}

  /** Entries ~ N(0, 1) from {@code new Random(seed)}. */
  static INDArray gaussian(int rows, int cols, long seed) {
    Random rng = new Random(seed);
    float[] d = new float[rows * cols];
    for (int i = 0; i < d.length; i++) {
      d[i] = (float) rng.nextGaussian();
    }
    return Nd4j.create(d, new long[] {rows, cols}, 'c');
  }

  /** A = U diag(s) V^T with random orthonormal U, V and the given singular values. */
  static INDArray withSpectrum(int m, int n, float[] s, long seed) {
    INDArray u = Qr.reduced(gaussian(m, s.length, seed)).q(); // [m, k]
    INDArray v = Qr.reduced(gaussian(n, s.length, seed + 1)).q(); // [n, k]
    INDArray sv = Nd4j.create(s, new long[] {s.length}, org.nd4j.linalg.api.buffer.DataType.FLOAT);
    return u.mulRowVector(sv).mmul(v.transpose()); // [m, k] x [k, n]
  }

  /** max |a - b| relative to max |b|. */
  static double relMaxError(INDArray a, INDArray b) {
    return a.sub(b).amaxNumber().doubleValue() / b.amaxNumber().doubleValue();
  }

  /** ||a - b||_F / ||b||_F. */
  static double relFrobError(INDArray a, INDArray b) {
    return a.sub(b).norm2Number().doubleValue() / b.norm2Number().doubleValue();
  }

  /** max |Q^T Q - I| for Q with orthonormal columns. */
  static double orthoError(INDArray q) {
    INDArray g = q.transpose().mmul(q); // [k, m] x [m, k]
    return g.sub(Nd4j.eye(g.rows()).castTo(g.dataType())).amaxNumber().doubleValue();
  }

  static boolean descendingNonNegative(INDArray s) {
    float[] v = s.toFloatVector();
    for (int i = 0; i < v.length; i++) {
      if (v[i] < 0 || (i > 0 && v[i] > v[i - 1])) {
        return false;
      }
    }
    return true;
  }

  static INDArray abs(INDArray a) {
    return Transforms.abs(a, true);
  }
}
