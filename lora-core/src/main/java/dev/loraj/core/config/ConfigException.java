package dev.loraj.core.config;

/**
 * A config file a user wrote (sweep or continual YAML, an adapter config) that cannot be used as
 * written: the message is one line naming where (the key path), the bad value and what would be
 * accepted, with the nearest valid name for a misspelt key. An {@link IllegalArgumentException},
 * so callers that report bad arguments report this the same way. Control characters in the
 * message (a key or value quoted from the file may hold a line break) are written as escapes,
 * so the message stays one line.
 */
public final class ConfigException extends IllegalArgumentException {
  private static final long serialVersionUID = 1L;

  public ConfigException(String message) {
    super(escapeControls(message));
  }

  public ConfigException(String message, Throwable cause) {
    super(escapeControls(message), cause);
  }

  static String escapeControls(String s) {
    if (s == null) {
      return null;
    }
    StringBuilder out = new StringBuilder(s.length());
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '\n' -> out.append("\\n");
        case '\r' -> out.append("\\r");
        case '\t' -> out.append("\\t");
        default -> {
          if (c < 0x20 || c == 0x7f || c == 0x85 || c == 0x2028 || c == 0x2029) {
            out.append(String.format("\\u%04x", (int) c));
          } else {
            out.append(c);
          }
        }
      }
    }
    return out.toString();
  }
}
