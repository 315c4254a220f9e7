package dev.loraj.core.io;

import java.io.IOException;
import java.nio.file.Path;

/**
 * A safetensors file (or sharded checkpoint) that does not follow the format: the message
 * names the file, the offending field or tensor, the bad value and what would be accepted.
 */
public final class SafetensorsFormatException extends IOException {
  private static final long serialVersionUID = 1L;

  private final transient Path file;

  public SafetensorsFormatException(Path file, String problem) {
    super(file + ": " + problem);
    this.file = file;
  }

  public SafetensorsFormatException(Path file, String problem, Throwable cause) {
    super(file + ": " + problem, cause);
    this.file = file;
  }

  /** The file the problem was found in. */
  public Path file() {
    return file;
  }
}
