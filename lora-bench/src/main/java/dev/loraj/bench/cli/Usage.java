package dev.loraj.bench.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParameterException;

/**
 * Checks of command-line values that picocli's type conversion does not make (ranges, files that
 * must exist, directories that must be directories). Each failure is a {@link ParameterException}:
 * the command line prints it as one line and exits 2, as for an unknown option.
 */
final class Usage {
  private Usage() {}

  /** {@code value} of {@code option} in [min, max]. */
  static long range(CommandSpec spec, String option, long value, long min, long max) {
    if (value < min || value > max) {
      throw new ParameterException(spec.commandLine(), option + " = " + value + ": expected an integer "
          + (max == Long.MAX_VALUE || max == Integer.MAX_VALUE ? ">= " + min : "in [" + min + ", " + max + "]"));
    }
    return value;
  }

  /** A readable regular file. */
  static Path file(CommandSpec spec, String what, Path p) {
    if (Files.isDirectory(p)) {
      throw new ParameterException(spec.commandLine(), what + " " + p + " is a directory; expected a file");
    }
    if (!Files.isRegularFile(p)) {
      throw new ParameterException(spec.commandLine(), what + " " + p + " does not exist");
    }
    return p;
  }

  /** An existing directory. */
  static Path directory(CommandSpec spec, String what, Path p) {
    if (Files.isRegularFile(p)) {
      throw new ParameterException(spec.commandLine(), what + " " + p + " is a file; expected a directory");
    }
    if (!Files.isDirectory(p)) {
      throw new ParameterException(spec.commandLine(), what + " " + p + " does not exist");
    }
    return p;
  }

  /** A directory to write into: absent (created later) or a directory, never a file. */
  static Path outputDirectory(CommandSpec spec, String what, Path p) {
    if (p != null && Files.exists(p) && !Files.isDirectory(p)) {
      throw new ParameterException(spec.commandLine(), what + " " + p + " is a file; expected a directory");
    }
    return p;
  }

  /** {@code --shard I/N}: returns {0-based index, count}; 1 <= I <= N <= 100,000. */
  static int[] shard(CommandSpec spec, String value) {
    if (value == null) {
      return new int[] {0, 1};
    }
    java.util.regex.Matcher m = java.util.regex.Pattern.compile("\\s*(\\d{1,6})\\s*/\\s*(\\d{1,6})\\s*").matcher(value);
    if (!m.matches()) {
      throw new ParameterException(spec.commandLine(), "--shard '" + value + "': expected I/N, e.g. 2/4");
    }
    int i = Integer.parseInt(m.group(1));
    int n = Integer.parseInt(m.group(2));
    if (n < 1 || n > 100_000 || i < 1 || i > n) {
      throw new ParameterException(spec.commandLine(), "--shard " + value + ": expected 1 <= I <= N <= 100000");
    }
    return new int[] {i - 1, n};
  }
}
