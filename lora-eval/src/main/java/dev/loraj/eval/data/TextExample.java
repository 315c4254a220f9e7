package dev.loraj.eval.data;

import java.util.Objects;

/**
 * One labelled text of a {@link TextClassificationDataset}.
 *
 * @param text the passage, at most about 400 characters
 * @param label index into {@link TextClassificationDataset#labelNames()}
 */
public record TextExample(String text, int label) {

  public TextExample {
    Objects.requireNonNull(text, "text");
    if (label < 0) {
      throw new IllegalArgumentException("label must be >= 0, got " + label);
    }
  }
}
