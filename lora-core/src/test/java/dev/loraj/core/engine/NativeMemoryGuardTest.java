package dev.loraj.core.engine;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.factory.Nd4j;

class NativeMemoryGuardTest {

  @Test
  void collectsWhenUnreferencedArraysPileUpOffHeap() {
    NativeMemoryGuard guard = new NativeMemoryGuard(32L << 20);
    guard.checkNow(); // notes the starting level
    boolean collected = false;
    for (int i = 0; i < 200 && !collected; i++) {
      Nd4j.create(DataType.FLOAT, 1024, 1024).assign(i); // 4 MiB off heap, unreferenced at once
      collected = guard.checkNow();
    }
    assertThat(collected).as("a collection within 800 MiB of garbage").isTrue();
    assertThat(guard.collections()).isEqualTo(1);
    assertThat(MemoryMonitor.offHeapBytes()).isLessThan(guard.threshold());
  }

  @Test
  void disabledWithZeroGrowth() {
    NativeMemoryGuard off = new NativeMemoryGuard(0);
    for (int i = 0; i < 3; i++) {
      Nd4j.create(DataType.FLOAT, 1024, 1024);
      assertThat(off.checkNow()).isFalse();
    }
  }
}
