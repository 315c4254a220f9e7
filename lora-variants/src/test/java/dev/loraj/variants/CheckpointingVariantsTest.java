package dev.loraj.variants;

import static org.assertj.core.api.Assertions.assertThat;

import dev.loraj.core.adapter.AdapterSpec;
import dev.loraj.core.adapter.BiasMode;
import dev.loraj.core.engine.Engine;
import dev.loraj.core.graph.BlockRecomputeTest;
import dev.loraj.core.model.Targets;
import dev.loraj.variants.adalora.AdaLoraConfig;
import dev.loraj.variants.vera.Vera;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Gradient checkpointing with adapters beyond LoRA: VeRA (shared frozen projections, buffers in
 * the graph) on a llama-like model and AdaLoRA (an orthogonality regularizer and an after-step
 * hook that prunes ranks) on a BERT-like one train bit for bit as without it (tolerance 0), with
 * fewer activation bytes.
 */
class CheckpointingVariantsTest {

  @BeforeEach
  void replayedEngine() {
    Assumptions.assumeTrue(Engine.current().replay(), "the engine replays recorded steps");
  }

  @Test
  void veraOnALlamaTrainsBitForBit() {
    double ratio = BlockRecomputeTest.sameTraining("llama vera", BlockRecomputeTest::llama,
        pm -> pm.addAdapter("default", new AdapterSpec(new Vera.Config(8, 1.0, 0.0, 0L, 0.1,
            BiasMode.NONE), Targets.allLinear()), 5), BlockRecomputeTest::llamaBatch);
    System.out.printf("llama vera: activation bytes without / with checkpointing = %.2f%n", ratio);
    assertThat(ratio).as("activations without / with checkpointing").isGreaterThan(2.5);
  }

  @Test
  void adaloraOnABertTrainsBitForBit() {
    double ratio = BlockRecomputeTest.sameTraining("bert adalora", BlockRecomputeTest::bert,
        pm -> pm.addAdapter("default", new AdapterSpec(AdaLoraConfig.of(4, 2, 4, 1, 1, 1),
            Targets.allLinear()), 5), BlockRecomputeTest::bertBatch);
    System.out.printf("bert adalora: activation bytes without / with checkpointing = %.2f%n", ratio);
    assertThat(ratio).as("activations without / with checkpointing").isGreaterThan(2.0);
  }
}
