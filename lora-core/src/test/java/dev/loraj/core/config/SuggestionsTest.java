package dev.loraj.core.config;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

class SuggestionsTest {
  static final List<String> KEYS = List.of("rank", "alpha", "dropout", "learning_rate", "batch_size");

  @Test
  void aTranspositionOrOneEditIsSuggested() {
    assertThat(Suggestions.nearest("rnak", KEYS)).contains("rank");
    assertThat(Suggestions.nearest("Rank", KEYS)).contains("rank");
    assertThat(Suggestions.nearest("alpah", KEYS)).contains("alpha");
    assertThat(Suggestions.nearest("learningrate", KEYS)).contains("learning_rate");
    assertThat(Suggestions.hint("batch_szie", KEYS)).isEqualTo("; did you mean 'batch_size'?");
  }

  @Test
  void anUnrelatedNameGetsNoSuggestion() {
    assertThat(Suggestions.nearest("seeds", KEYS)).isEmpty();
    assertThat(Suggestions.nearest("x", KEYS)).isEmpty();
    assertThat(Suggestions.hint("optimizer", KEYS)).isEmpty();
  }
}
