package dev.loraj.variants.adalora;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The budget schedule of the reference code / PEFT {@code RankAllocator.budget_schedule}:
 * {@code t <= tinit}: b0, no mask; {@code t > T - tfinal}: bT, mask; otherwise
 * {@code int((b0 - bT) * (1 - (t - tinit)/(T - tfinal - tinit))^3 + bT)} (Python {@code int()}
 * truncates toward zero), mask when {@code t % deltaT == 0}.
 */
class AdaLoraScheduleTest {

  /**
   * b0 = 6, bT = 2, T = 10, tinit = tfinal = 0, deltaT = 1. By hand: t = 1: 4 * 0.9^3 + 2 = 4.916
   * -> 4; t = 2: 4 * 0.512 + 2 = 4.048 -> 4; t = 3: 4 * 0.343 + 2 = 3.372 -> 3; t = 4: 4 * 0.216
   * + 2 = 2.864 -> 2; t = 5: 2.5 -> 2; t = 6..9: 2.256, 2.108, 2.032, 2.004 -> 2; t = 10: 2.
   */
  @Test
  void cubicScheduleWithIntegerTruncation() {
    RankAllocator.Schedule s = new RankAllocator.Schedule(6, 2, 0, 0, 10, 1);
    List<Integer> budgets = new ArrayList<>();
    for (int t = 0; t <= 10; t++) {
      budgets.add(s.at(t).budget());
    }
    assertThat(budgets).containsExactly(6, 4, 4, 3, 2, 2, 2, 2, 2, 2, 2);
    assertThat(s.at(0).mask()).isFalse(); // t <= tinit
    for (int t = 1; t <= 10; t++) {
      assertThat(s.at(t).mask()).as("mask at %d", t).isTrue(); // deltaT = 1
    }
    assertThat(s.at(11)).isEqualTo(new RankAllocator.Budget(2, true)); // t > T - tfinal
  }

  /**
   * b0 = 6, bT = 2, T = 10, tinit = 2, tfinal = 2, deltaT = 2: the cubic phase spans t = 3..8
   * with denominator 6. t = 3: 4 (5/6)^3 + 2 = 4.31 -> 4; t = 4: 4 (4/6)^3 + 2 = 3.19 -> 3;
   * t = 5: 2.5 -> 2; t = 6: 2.15 -> 2; t = 7: 2.02 -> 2; t = 8: 2.
   */
  @Test
  void warmupFinalPhaseAndMaskInterval() {
    RankAllocator.Schedule s = new RankAllocator.Schedule(6, 2, 2, 2, 10, 2);
    List<Integer> budgets = new ArrayList<>();
    List<Boolean> masks = new ArrayList<>();
    for (int t = 1; t <= 10; t++) {
      budgets.add(s.at(t).budget());
      masks.add(s.at(t).mask());
    }
    assertThat(budgets).containsExactly(6, 6, 4, 3, 2, 2, 2, 2, 2, 2);
    assertThat(masks).containsExactly(false, false, false, true, false, true, false, true, true, true);
  }
}
