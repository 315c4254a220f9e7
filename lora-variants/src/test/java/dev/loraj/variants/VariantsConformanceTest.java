package dev.loraj.variants;

import dev.loraj.core.conformance.AdapterConformanceSuite;

/** Every variant on this module's class path (all of lora-variants, plus LoRA) runs the suite. */
class VariantsConformanceTest extends AdapterConformanceSuite {}
