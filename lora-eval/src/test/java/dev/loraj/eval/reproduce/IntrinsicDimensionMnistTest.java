package dev.loraj.eval.reproduce;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

class IntrinsicDimensionMnistTest {

  @Test
  void d90InterpolatesLinearlyBetweenTheSweepPointsAroundTheThreshold() {
    List<Integer> dims = List.of(100, 500, 1000);
    // threshold 0.8 lies a quarter of the way from 0.7 (d = 500) to 1.1 (d = 1000): 625
    assertThat(IntrinsicDimensionMnist.d90(dims, new double[] {0.5, 0.7, 1.1}, 0.8)).isCloseTo(625, within(1e-9));
    assertThat(IntrinsicDimensionMnist.d90(dims, new double[] {0.9, 0.95, 0.97}, 0.8)).isEqualTo(100);
    assertThat(IntrinsicDimensionMnist.d90(dims, new double[] {0.1, 0.2, 0.3}, 0.8)).isNaN();
  }

  @Test
  void batchesAreSeededEpochShufflesOfTheTrainingSet() {
    int[] train = {3, 5, 7, 11, 13};
    int[] order = IntrinsicDimensionMnist.batchOrder(train, 12, 7);
    assertThat(order).isEqualTo(IntrinsicDimensionMnist.batchOrder(train, 12, 7));
    int[] firstEpoch = Arrays.copyOf(order, 5);
    Arrays.sort(firstEpoch);
    assertThat(firstEpoch).containsExactly(train);
  }

  @Test
  void aTinySweepRunsEndToEndAndReportsEveryD() {
    var setup = new IntrinsicDimensionMnist.Setup(20, 64, 1e-3, 3e-2, List.of(50, 400));
    var sweep = IntrinsicDimensionMnist.sweep(setup);
    assertThat(sweep.baseline()).isGreaterThan(0.5); // 20 Adam steps of full training
    assertThat(sweep.accuracy()).hasSize(2);
    for (double a : sweep.accuracy()) {
      assertThat(a).isBetween(0.0, 1.0);
    }
  }

  @Test
  void replacesThePlannedEntry() {
    Reproduction r = Reproductions.get("intrinsic-dimension");
    assertThat(r.implemented()).isTrue();
    assertThat(r.source()).contains("1804.08838");
  }
}
