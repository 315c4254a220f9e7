package dev.loraj.bench.sweep;

import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.List;

/**
 * The command line of a new JVM like this one: the same {@code java} binary, JVM options and
 * class path, running {@code mainClass} with {@code args}. Extra JVM options come after this
 * JVM's, so a {@code -Dname=value} there wins over one inherited.
 */
public final class ChildJvm {
  private ChildJvm() {}

  public static List<String> command(List<String> jvmOptions, String mainClass, List<String> args) {
    List<String> cmd = new ArrayList<>();
    cmd.add(ProcessHandle.current().info().command().orElse("java"));
    cmd.addAll(ManagementFactory.getRuntimeMXBean().getInputArguments());
    cmd.addAll(jvmOptions);
    cmd.add("-cp");
    cmd.add(System.getProperty("java.class.path"));
    cmd.add(mainClass);
    cmd.addAll(args);
    return cmd;
  }
}
