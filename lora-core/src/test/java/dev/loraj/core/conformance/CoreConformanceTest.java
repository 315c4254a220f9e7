package dev.loraj.core.conformance;

/** Runs the conformance suite on the variants of lora-core (plain LoRA). */
class CoreConformanceTest extends AdapterConformanceSuite {}
