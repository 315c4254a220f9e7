package dev.loraj.bench.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The {@code lora} launcher's thread count and collector: by default every core the machine has, also when
 * {@code OMP_NUM_THREADS} is set (which {@code nproc} would otherwise take as its answer);
 * {@code --threads} and {@code LORA_THREADS} override it. A stand-in {@code java} on the PATH
 * prints what the launcher exported.
 */
class LauncherThreadsTest {
  private static final Path LAUNCHER = Path.of("..", "lora").toAbsolutePath().normalize();

  private static String exported(Path dir, String omp, String loraThreads, String... args)
      throws IOException, InterruptedException {
    return launch(dir, "echo \"$LORA_THREADS $OMP_NUM_THREADS\"", omp, loraThreads, null, args);
  }

  /** Runs the launcher with a stand-in {@code java} whose body is {@code javaScript}; its output. */
  private static String launch(Path dir, String javaScript, String omp, String loraThreads, String gc,
      String... args) throws IOException, InterruptedException {
    Path bin = Files.createDirectories(dir.resolve("bin"));
    Path fakeJava = bin.resolve("java");
    Files.writeString(fakeJava, "#!/bin/sh\n" + javaScript + "\n");
    Files.setPosixFilePermissions(fakeJava, PosixFilePermissions.fromString("rwxr-xr-x"));
    Path jar = Files.writeString(dir.resolve("lora.jar"), "");
    java.util.List<String> cmd = new java.util.ArrayList<>(java.util.List.of("bash", LAUNCHER.toString()));
    cmd.addAll(java.util.List.of(args));
    ProcessBuilder pb = new ProcessBuilder(cmd);
    pb.environment().put("PATH", bin + ":" + System.getenv("PATH"));
    pb.environment().put("LORA_JAR", jar.toString());
    pb.environment().remove("OMP_NUM_THREADS");
    pb.environment().remove("LORA_THREADS");
    if (omp != null) {
      pb.environment().put("OMP_NUM_THREADS", omp);
    }
    if (loraThreads != null) {
      pb.environment().put("LORA_THREADS", loraThreads);
    }
    pb.environment().remove("LORA_GC");
    if (gc != null) {
      pb.environment().put("LORA_GC", gc);
    }
    pb.redirectErrorStream(true);
    Process p = pb.start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
    assertThat(p.waitFor()).as(out).isZero();
    return out;
  }

  private static String cores() throws IOException, InterruptedException {
    Process p = new ProcessBuilder("env", "-u", "OMP_NUM_THREADS", "-u", "OMP_THREAD_LIMIT", "nproc").start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
    p.waitFor();
    return out;
  }

  @Test
  void defaultIsEveryCoreEvenWithOmpNumThreadsSet(@TempDir Path dir) throws Exception {
    assumeTrue(System.getProperty("os.name").startsWith("Linux") && Files.exists(LAUNCHER));
    String cores = cores();
    assertThat(exported(dir, null, null, "version")).isEqualTo(cores + " 1");
    assertThat(exported(dir, "1", null, "version")).isEqualTo(cores + " 1");
    assertThat(exported(dir, "3", null, "version")).isEqualTo(cores + " 3");
    assertThat(exported(dir, "1", "5", "version")).isEqualTo("5 1");
    assertThat(exported(dir, "1", "5", "bench", "step", "--threads", "3")).isEqualTo("3 1");
    assertThat(exported(dir, null, null, "bench", "step", "--threads=4")).isEqualTo("4 1");
  }

  /**
   * The serial collector by default (a small young generation collected often frees ND4J's
   * native buffers sooner); {@code LORA_GC} replaces it, empty keeps the JVM's own choice.
   */
  @Test
  void serialCollectorUnlessLoraGcSaysOtherwise(@TempDir Path dir) throws Exception {
    assumeTrue(System.getProperty("os.name").startsWith("Linux") && Files.exists(LAUNCHER));
    assertThat(launch(dir, "echo \"$1 $2\"", null, null, null, "version")).isEqualTo("-XX:+UseSerialGC -Xmx6g");
    assertThat(launch(dir, "echo \"$1 $2\"", null, null, "", "version")).startsWith("-Xmx6g ");
    assertThat(launch(dir, "echo \"$1 $2\"", null, null, "-XX:+UseParallelGC", "version"))
        .isEqualTo("-XX:+UseParallelGC -Xmx6g");
  }
}
