package dev.loraj.variants.svd;

import dev.loraj.core.adapter.SiteInit;
import dev.loraj.core.lora.Fill;
import dev.loraj.core.model.LinearSite;
import java.util.Optional;
import java.util.SplittableRandom;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import dev.loraj.core.linalg.Qr;

/** A {@link SiteInit} over a given weight (and covariance) that records the rewritten base. */
final class TestSite implements SiteInit {
  final LinearSite site;
  final INDArray weight; // [out, in]
  final INDArray covariance; // [in, in] or null
  INDArray rewritten;

  TestSite(INDArray weight, INDArray covariance) {
    this.site = new LinearSite("layer", (int) weight.size(1), (int) weight.size(0), false, false, false);
    this.weight = weight;
    this.covariance = covariance;
  }

  @Override
  public String adapterName() {
    return "test";
  }

  @Override
  public LinearSite site() {
    return site;
  }

  @Override
  public INDArray baseWeight() {
    return weight.dup();
  }

  @Override
  public SplittableRandom random() {
    return new SplittableRandom(5);
  }

  @Override
  public long seed() {
    return 5;
  }

  @Override
  public Optional<INDArray> inputCovariance() {
    return Optional.ofNullable(covariance).map(INDArray::dup);
  }

  @Override
  public void rewriteBase(INDArray w) {
    rewritten = w.dup();
  }

  // ------------------------------------------------------------------ matrices

  static INDArray gaussian(int rows, int cols, long seed) {
    return Fill.normal(new long[] {rows, cols}, 1.0, new SplittableRandom(seed));
  }

  /** U diag(s) V^T with random orthonormal U [m, k], V [n, k]. */
  static INDArray withSpectrum(int m, int n, float[] s, long seed) {
    INDArray u = Qr.reduced(gaussian(m, s.length, seed)).q(); // [m, k]
    INDArray v = Qr.reduced(gaussian(n, s.length, seed + 1)).q(); // [n, k]
    INDArray sv = Nd4j.create(s, new long[] {s.length}, DataType.FLOAT);
    return u.mulRowVector(sv).mmul(v.transpose()); // [m, k] x [k, n]
  }

  /** s_i = decay^i, i = 0..k-1. */
  static float[] geometric(int k, double decay) {
    float[] s = new float[k];
    for (int i = 0; i < k; i++) {
      s[i] = (float) Math.pow(decay, i);
    }
    return s;
  }

  /** A random symmetric positive definite [n, n]: G G^T / n + 0.1 I. */
  static INDArray spd(int n, long seed) {
    INDArray g = gaussian(n, n, seed);
    return g.mmul(g.transpose()).divi(n).addi(Nd4j.eye(n).castTo(DataType.FLOAT).muli(0.1));
  }

  /** ||a - b||_F / ||b||_F. */
  static double relFrob(INDArray a, INDArray b) {
    return a.sub(b).norm2Number().doubleValue() / b.norm2Number().doubleValue();
  }

  static double maxAbs(INDArray a, INDArray b) {
    return a.sub(b).amaxNumber().doubleValue();
  }
}
