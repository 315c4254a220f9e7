package dev.loraj.core.engine;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** scripts/blas-env.sh on fake /proc/cpuinfo files (needs /bin/sh and Linux). */
class BlasEnvScriptTest {
  private static final Path SCRIPT = Path.of("..", "scripts", "blas-env.sh");

  @ParameterizedTest(name = "{0} (preset ''{1}'') -> {2}, flags give {3}")
  @CsvSource({
    "'fpu sse avx avx2 fma avx512f avx512dq avx512bw avx512vl', '', SkylakeX, SkylakeX",
    "'fpu avx avx2 fma avx512f avx512vl avx512bw', '', Haswell, Haswell", // no avx512dq
    "'fpu sse avx avx2 fma', '', Haswell, Haswell",
    "'fpu sse avx avx2', '', Sandybridge, Sandybridge", // avx2 without fma
    "'fpu sse avx', '', Sandybridge, Sandybridge",
    "'fpu sse sse2', '', unset, unset",
    "'fpu sse avx avx2 fma', 'Prescott', Prescott, Haswell", // the user's choice is kept
    "'fpu sse avx avx2 fma avx512f avx512dq avx512bw avx512vl', 'Haswell', Haswell, SkylakeX"
  })
  void choosesCoretypeFromFlags(String flags, String preset, String expected, String fromFlags,
      @TempDir Path dir)
      throws IOException, InterruptedException {
    assumeTrue(System.getProperty("os.name").startsWith("Linux") && Files.exists(SCRIPT));
    Path cpuinfo = dir.resolve("cpuinfo");
    Files.writeString(cpuinfo, "processor\t: 0\nflags\t\t: " + flags + "\n\n"
        + "processor\t: 1\nflags\t\t: " + flags + "\n");
    ProcessBuilder pb = new ProcessBuilder("/bin/sh", "-c",
        "set -eu; . \"$0\"; echo \"${OPENBLAS_CORETYPE:-unset} ${LORA_BLAS_CPU_CORETYPE:-unset}\"",
        SCRIPT.toString());
    pb.environment().remove("OPENBLAS_CORETYPE");
    pb.environment().remove("LORA_BLAS_CPU_CORETYPE");
    if (!preset.isEmpty()) {
      pb.environment().put("OPENBLAS_CORETYPE", preset);
    }
    pb.environment().put("BLAS_ENV_CPUINFO", cpuinfo.toString());
    pb.redirectErrorStream(true);
    Process p = pb.start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
    assertThat(p.waitFor()).isZero();
    // the kernel in force, then the one the flags give (exported even when a pin is kept)
    assertThat(out).isEqualTo(expected + " " + fromFlags);
  }
}
