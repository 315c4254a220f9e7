package dev.loraj.core.config;

/**
 * A config file a user wrote (sweep or continual YAML, an adapter config) that cannot be used as
 * written: the message is one line naming where (the key path), the bad value and what would be
 * accepted, with the nearest valid name for a misspelt key. An {@link IllegalArgumentException},
 * so callers that report bad arguments report this the same way.
 */
public final class ConfigException extends IllegalArgumentException {
  private static final long serialVersionUID = 1L;

  public ConfigException(String message) {
    super(message);
  }

  public ConfigException(String message, Throwable cause) {
    super(message, cause);
  }
}
