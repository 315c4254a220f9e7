package dev.loraj.core.conformance;

import java.util.Set;

/** Runs the conformance suite on the variants of lora-core (plain LoRA). */
class CoreConformanceTest extends AdapterConformanceSuite {

  @Override
  protected Set<String> expectedVariants() {
    return Set.of("lora");
  }
}
