package dev.loraj.core;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * Every public type of the packages a user programs against (adapter, model, train, checkpoint
 * and their sub-packages) has a class comment. The javadoc goal checks everything else about
 * the comments (HTML, references), but not that a type has one.
 */
class PublicTypesDocumentedTest {

  private static final Path SOURCES = Path.of("src/main/java/dev/loraj/core");
  private static final List<String> PACKAGES = List.of("adapter", "model", "train", "checkpoint");
  private static final Pattern PUBLIC_TYPE = Pattern.compile(
      "^\\s*public\\s+(?:(?:static|final|abstract|sealed|non-sealed|strictfp)\\s+)*"
          + "(?:class|interface|record|enum|@interface)\\s+(\\w+)");

  @Test
  void everyPublicTypeHasAClassComment() throws IOException {
    List<String> undocumented = new ArrayList<>();
    for (String pkg : PACKAGES) {
      try (Stream<Path> files = Files.walk(SOURCES.resolve(pkg))) {
        for (Path f : files.filter(p -> p.toString().endsWith(".java")).sorted().toList()) {
          undocumented.addAll(undocumented(f));
        }
      }
    }
    assertThat(undocumented).as("public types without a Javadoc comment").isEmpty();
  }

  /** The public types declared in {@code file} whose declaration no Javadoc comment precedes. */
  private static List<String> undocumented(Path file) throws IOException {
    List<String> lines = Files.readAllLines(file);
    List<String> out = new ArrayList<>();
    for (int i = 0; i < lines.size(); i++) {
      Matcher m = PUBLIC_TYPE.matcher(lines.get(i));
      if (!m.find()) {
        continue;
      }
      int j = i - 1;
      // annotations (one line each, or the closing line of a multi-line one) sit between
      while (j >= 0 && !lines.get(j).isBlank() && !lines.get(j).strip().endsWith("*/")
          && (lines.get(j).strip().startsWith("@") || lines.get(j).strip().endsWith(")"))) {
        j--;
      }
      if (j < 0 || !lines.get(j).strip().endsWith("*/")) {
        out.add(file + ":" + (i + 1) + " " + m.group(1));
      }
    }
    return out;
  }
}
