package dev.loraj.core.engine;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class BlasCheckTest {

  @Test
  void sgemmMatchesDoubleReferenceOnOddSizes() {
    // 257x131 x 131x193: a correct float kernel stays near k * 2^-24 ~ 8e-6 at worst
    assertThat(BlasCheck.gemmMaxRelativeError(42L)).isLessThan(1e-4);
  }

  @Test
  void sgemmMatchesDoubleReferenceAt512() {
    // large enough for OpenBLAS to block and thread the product (odd remainders on purpose)
    assertThat(BlasCheck.gemmMaxRelativeError(512, 515, 509, 7L)).isLessThan(1e-4);
  }

  @Test
  void notesAPinnedKernelOtherThanTheFlagsChoice() {
    assertThat(BlasCheck.pinNote(java.util.Map.of("OPENBLAS_CORETYPE", "Haswell",
        "LORA_BLAS_CPU_CORETYPE", "SkylakeX")))
        .startsWith("OpenBLAS kernel Haswell is pinned").contains("select SkylakeX");
    assertThat(BlasCheck.pinNote(java.util.Map.of("OPENBLAS_CORETYPE", "skylakex",
        "LORA_BLAS_CPU_CORETYPE", "SkylakeX"))).isNull(); // OpenBLAS reads names in any case
    assertThat(BlasCheck.pinNote(java.util.Map.of("OPENBLAS_CORETYPE", "Haswell"))).isNull();
    assertThat(BlasCheck.pinNote(java.util.Map.of())).isNull();
  }

  @Test
  void describeNamesCoretypeCoreAndThreads() {
    String d = BlasCheck.describe();
    System.out.println("BLAS: " + d);
    assertThat(d).contains("OPENBLAS_CORETYPE=").contains("core=").contains("threads=");
    assertThat(BlasCheck.coreName()).isNotEqualTo("unknown");
    String env = System.getenv("OPENBLAS_CORETYPE");
    if (env != null && !env.isBlank()) {
      // OpenBLAS honoured the requested kernel (it silently ignores misspelt names)
      assertThat(d.toLowerCase()).contains("core=" + env.toLowerCase());
    }
  }
}
