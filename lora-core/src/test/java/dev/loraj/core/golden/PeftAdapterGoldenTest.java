package dev.loraj.core.golden;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.loraj.core.adapter.AdapterRegistry;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every GPT-2 and Llama case of golden/peft_v1 (PEFT 0.21 adapters on transformers 5 models):
 * loaded with {@code PeftAdapters}, the Java logits (base, unmerged, merged) and merged weights
 * match PyTorch's within 1e-4, and our saved copy reloads to identical logits. DoRA cases run
 * where a {@code dora} variant is registered (lora-variants' test has them); BERT's cases are in
 * {@link BertGoldenTest}.
 */
class PeftAdapterGoldenTest {

  static final AdapterRegistry REGISTRY = AdapterRegistry.discover();

  @TempDir static Path scratch;

  static Stream<String> cases() {
    return PeftGolden.cases().stream()
        .filter(c -> !c.path("model").asText().equals("bert"))
        .map(c -> c.path("name").asText());
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("cases")
  void matchesPeft(String name) throws Exception {
    JsonNode c = PeftGolden.caseNamed(name);
    assumeTrue(!c.path("kind").asText().equals("dora") || REGISTRY.contains("dora"),
        "no 'dora' variant on this class path");
    PeftCaseCheck.assertWithinTolerance(PeftCaseCheck.run(c, REGISTRY, scratch));
  }
}
