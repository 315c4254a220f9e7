package dev.loraj.eval.continual;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import org.junit.jupiter.api.Test;

class ContinualMetricsTest {

  // hand-made R, 3 tasks; rows: after training task i
  private static final double[][] R = {
      {0.90, 0.10, 0.20},
      {0.70, 0.80, 0.30},
      {0.60, 0.75, 0.95}};

  @Test
  void averageAccuracyIsTheMeanOfTheLastRow() {
    assertThat(ContinualMetrics.averageAccuracy(R)).isCloseTo((0.60 + 0.75 + 0.95) / 3, within(1e-12));
  }

  @Test
  void backwardTransferComparesFinalWithJustTrained() {
    // ((0.60 - 0.90) + (0.75 - 0.80)) / 2 = -0.175
    assertThat(ContinualMetrics.backwardTransfer(R)).isCloseTo(-0.175, within(1e-12));
  }

  @Test
  void forgettingIsBestEarlierMinusFinal() {
    // task 0: max(0.90, 0.70) - 0.60 = 0.30; task 1: 0.80 - 0.75 = 0.05
    assertThat(ContinualMetrics.forgetting(R)).containsExactly(new double[] {0.30, 0.05}, within(1e-12));
    assertThat(ContinualMetrics.meanForgetting(R)).isCloseTo(0.175, within(1e-12));
  }

  @Test
  void nonSquareMatrixIsRejected() {
    assertThatThrownBy(() -> ContinualMetrics.averageAccuracy(new double[][] {{1, 2}, {1}}))
        .hasMessageContaining("n x n");
  }
}
