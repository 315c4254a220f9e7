package dev.loraj.eval.data;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class StratifiedSamplerTest {

  @Test
  void quotasFollowClassSharesAndSumToN() {
    assertThat(StratifiedSampler.quotas(new int[] {50, 30, 20}, 10)).containsExactly(5, 3, 2);
    // 7 * (1/3) each: remainders tie, the lower labels get the extra ones.
    assertThat(StratifiedSampler.quotas(new int[] {3, 3, 3}, 7)).containsExactly(3, 2, 2);
    assertThat(StratifiedSampler.quotas(new int[] {1, 99}, 50)).containsExactly(1, 49);
    assertThat(Arrays.stream(StratifiedSampler.quotas(new int[] {7, 0, 13}, 20)).sum())
        .isEqualTo(20);
  }

  @Test
  void selectReturnsDistinctAscendingIndicesWithTheQuotaPerLabel() {
    int[] labels = {0, 1, 0, 1, 0, 1, 0, 0, 1, 0};
    int[] idx = StratifiedSampler.select(labels, 2, 5, new SplittableRandom(3));
    assertThat(idx).hasSize(5).isSorted().doesNotHaveDuplicates();
    long zeros = Arrays.stream(idx).filter(i -> labels[i] == 0).count();
    assertThat(zeros).isEqualTo(3);
    assertThat(StratifiedSampler.select(labels, 2, 5, new SplittableRandom(3))).isEqualTo(idx);
  }
}
