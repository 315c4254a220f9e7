package dev.loraj.eval.continual;

import java.util.List;

/**
 * One method, one seed, one task order: R[i][j] = accuracy on task {@code order.get(j)} after
 * training task {@code order.get(i)} (0-based positions in the order).
 */
public record ContinualRun(ContinualMethod method, long seed, List<String> order, double[][] accuracy) {

  public double averageAccuracy() {
    return ContinualMetrics.averageAccuracy(accuracy);
  }

  public double backwardTransfer() {
    return ContinualMetrics.backwardTransfer(accuracy);
  }

  public double meanForgetting() {
    return ContinualMetrics.meanForgetting(accuracy);
  }
}
