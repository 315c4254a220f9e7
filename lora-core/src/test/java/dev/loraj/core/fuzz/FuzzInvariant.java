package dev.loraj.core.fuzz;

/**
 * The invariant every fuzz target checks: a parser either returns a valid result or throws one
 * of its documented exception types with a message; any other exception (a
 * NullPointerException, ClassCastException, an index out of bounds, OutOfMemoryError...) escapes
 * the target and is a finding.
 */
public final class FuzzInvariant {
  private FuzzInvariant() {}

  /**
   * A fresh directory for targets that must go through files: in memory ({@code /dev/shm}) where
   * the machine has one, which makes a file-writing target several times faster.
   */
  public static java.nio.file.Path scratchDirectory(String prefix) throws java.io.IOException {
    java.nio.file.Path shm = java.nio.file.Path.of("/dev/shm");
    if (java.nio.file.Files.isDirectory(shm) && java.nio.file.Files.isWritable(shm)) {
      return java.nio.file.Files.createTempDirectory(shm, prefix);
    }
    return java.nio.file.Files.createTempDirectory(prefix);
  }

  /** Deletes a directory made by {@link #scratchDirectory} and the files in it. */
  public static void deleteScratchDirectory(java.nio.file.Path dir) throws java.io.IOException {
    try (var files = java.nio.file.Files.list(dir)) {
      for (java.nio.file.Path p : files.toList()) {
        java.nio.file.Files.deleteIfExists(p);
      }
    }
    java.nio.file.Files.deleteIfExists(dir);
  }

  /** Fails unless {@code e} has a non-blank message (an error a user can act on). */
  public static void requireMessage(Throwable e) {
    if (e.getMessage() == null || e.getMessage().isBlank()) {
      throw new AssertionError("documented exception without a message", e);
    }
  }

  /** As {@link #requireMessage}, and the message is one line (errors on user-written files). */
  public static void requireOneLine(Throwable e) {
    requireMessage(e);
    if (e.getMessage().indexOf('\n') >= 0 || e.getMessage().indexOf('\r') >= 0) {
      throw new AssertionError("message spans lines: " + e.getMessage(), e);
    }
  }
}
