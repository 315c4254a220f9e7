package dev.loraj.core.linalg;

import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * A (thin or truncated) singular value decomposition {@code A ~= U diag(S) Vt}.
 *
 * @param u  left singular vectors as columns, {@code [m, k]}
 * @param s  singular values, {@code [k]}, descending, non-negative
 * @param vt right singular vectors as rows, {@code [k, n]}
 */
public record SvdResult(INDArray u, INDArray s, INDArray vt) {

  /** Number of triplets k. */
  public int rank() {
    return (int) s.length();
  }

  /** {@code U diag(S) Vt}, a new {@code [m, n]} array. */
  public INDArray reconstruct() {
    INDArray us = u.mulRowVector(s); // [m, k] * [k] (column j scaled by s_j)
    return us.mmul(vt); // [m, k] x [k, n]
  }

  /**
   * The first {@code r} triplets (the largest singular values), as copies.
   *
   * @throws IllegalArgumentException unless {@code 1 <= r <= rank()}
   */
  public SvdResult top(int r) {
    if (r < 1 || r > rank()) {
      throw new IllegalArgumentException("r must be in [1, " + rank() + "], got " + r);
    }
    return new SvdResult(
        u.get(NDArrayIndex.all(), NDArrayIndex.interval(0, r)).dup('c'), // [m, r]
        s.get(NDArrayIndex.interval(0, r)).dup(), // [r]
        vt.get(NDArrayIndex.interval(0, r), NDArrayIndex.all()).dup('c')); // [r, n]
  }
}
