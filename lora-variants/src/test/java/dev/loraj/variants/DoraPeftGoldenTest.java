package dev.loraj.variants;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.loraj.core.adapter.AdapterRegistry;
import dev.loraj.core.golden.BertHiddenCheck;
import dev.loraj.core.golden.PeftCaseCheck;
import dev.loraj.core.golden.PeftGolden;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * DoRA adapters written by PEFT 0.21 (golden/peft_v1: {@code gpt2-dora} on GPT-2's Conv1D,
 * {@code llama-dora}, {@code bert-dora} on a BertForSequenceClassification with a padded batch),
 * loaded through the registry's {@code dora} variant: base, unmerged and merged logits and merged
 * weights match PyTorch within 1e-4; our saved copy reloads exactly. For BERT, whose logits move
 * little through the pooler's tanh, the last hidden state (unmerged and merged) must match too.
 * Skipped while no {@code dora} variant is registered.
 */
class DoraPeftGoldenTest {

  static final AdapterRegistry REGISTRY = AdapterRegistry.discover();

  @TempDir static Path scratch;

  static Stream<String> cases() {
    return PeftGolden.cases().stream()
        .filter(c -> c.path("kind").asText().equals("dora"))
        .map(c -> c.path("name").asText());
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("cases")
  void matchesPeft(String name) throws Exception {
    assumeTrue(REGISTRY.contains("dora"), "no 'dora' variant registered yet");
    JsonNode c = PeftGolden.caseNamed(name);
    PeftCaseCheck.assertWithinTolerance(PeftCaseCheck.run(c, REGISTRY, scratch));
    if (c.path("model").asText().equals("bert")) {
      BertHiddenCheck.assertWithin(BertHiddenCheck.run(c, REGISTRY), PeftCaseCheck.TOLERANCE);
    }
  }
}
