package dev.loraj.bench.sweep;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.loraj.bench.cli.LoraCli;
import dev.loraj.core.engine.BlasCheck;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.nd4j.linalg.factory.Nd4j;

/** Where a result came from: code revision, runtime, machine, data. */
public final class Provenance {
  private Provenance() {}

  private static String gitRevision;

  public static synchronized String gitRevision() {
    if (gitRevision == null) {
      gitRevision = "unknown";
      try {
        Process p = new ProcessBuilder("git", "rev-parse", "HEAD").redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
        if (p.waitFor() == 0 && out.matches("[0-9a-f]{40}")) {
          Process d = new ProcessBuilder("git", "status", "--porcelain", "--untracked-files=no").start();
          String dirty = new String(d.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
          d.waitFor();
          gitRevision = out + (dirty.isEmpty() ? "" : "-dirty");
        }
      } catch (IOException | InterruptedException e) {
        // not a git checkout
      }
    }
    return gitRevision;
  }

  public static String cpuModel() {
    try {
      for (String line : Files.readAllLines(Path.of("/proc/cpuinfo"))) {
        if (line.startsWith("model name")) {
          return line.substring(line.indexOf(':') + 1).trim();
        }
      }
    } catch (IOException e) {
      // not Linux
    }
    return System.getProperty("os.arch");
  }

  public static ObjectNode machine() {
    ObjectNode n = JsonNodeFactory.instance.objectNode();
    n.put("git_revision", gitRevision());
    n.put("framework_version", LoraCli.version());
    n.put("jdk", System.getProperty("java.vendor") + " " + System.getProperty("java.version"));
    n.put("os", System.getProperty("os.name") + " " + System.getProperty("os.version"));
    n.put("arch", System.getProperty("os.arch"));
    n.put("cpu_model", cpuModel());
    n.put("cores", Runtime.getRuntime().availableProcessors());
    n.put("nd4j_backend", Nd4j.getBackend().getClass().getSimpleName());
    n.put("blas", BlasCheck.describe());
    return n;
  }
}
