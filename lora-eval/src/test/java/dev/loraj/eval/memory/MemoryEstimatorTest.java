package dev.loraj.eval.memory;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.loraj.core.graph.LmHeadCrossEntropy;
import dev.loraj.core.model.Targets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Hand-computed numbers; each states where it comes from. */
class MemoryEstimatorTest {

  private final MemoryEstimator est = new MemoryEstimator();

  @Test
  void cardTotalsMatchTheReleasedLlamaCheckpoints() throws Exception {
    // 32 x (4 x 4096^2 + 3 x 4096 x 11008) + 2 x 32000 x 4096 + (2 x 32 + 1) x 4096
    assertThat(ModelShape.of("llama-7b").totalParams()).isEqualTo(6_738_415_616L);
    // 80 x (4 x 8192^2 + 3 x 8192 x 22016) + 2 x 32000 x 8192 + (2 x 80 + 1) x 8192
    assertThat(ModelShape.of("llama-65b").totalParams()).isEqualTo(65_285_660_672L);
    // GPT-3: 96 x 12 x 12288^2 = 173,946,175,488 in the weights, ~174.6B with embeddings and biases
    assertThat(ModelShape.of("gpt3-175b").totalParams()).isBetween(174_500_000_000L, 175_000_000_000L);
  }

  @Test
  void loraOnGpt3QueryValueTrainableParametersAndTheirState() throws Exception {
    // 96 layers x 2 matrices x r x (12288 + 12288): r = 1 gives 4,718,592 (LoRA paper Table 4: 4.7M);
    // r = 4 gives 18,874,368 (section 4.2: 35MB in fp16)
    MemorySettings s = MemorySettings.of("lora", 1, 1, 2048).withTargets(List.of("query", "value"));
    assertThat(est.estimate(ModelShape.of("gpt3-175b"), s).trainableParams()).isEqualTo(4_718_592L);
    MemoryBreakdown b = est.estimate(ModelShape.of("gpt3-175b"),
        MemorySettings.of("lora", 4, 1, 2048).withTargets(List.of("query", "value")));
    assertThat(b.trainableParams()).isEqualTo(18_874_368L);
    assertThat(b.gradientBytes()).isEqualTo(4L * 18_874_368);     // fp32 gradients
    assertThat(b.optimizerBytes()).isEqualTo(8L * 18_874_368);    // Adam m and v in fp32
    assertThat(b.frozenBytes()).isEqualTo(4L * b.totalParams());  // fp32 frozen base
  }

  @Test
  void fullFineTuningAdamStateIsTwoFp32CopiesOfEveryParameter() throws Exception {
    ModelShape m = ModelShape.of("llama-7b");
    MemoryBreakdown b = est.estimate(m, MemorySettings.of("full", 0, 1, 512));
    assertThat(b.trainableParams()).isEqualTo(m.totalParams());
    assertThat(b.frozenBytes()).isZero();
    assertThat(b.optimizerBytes()).isEqualTo(2L * m.totalParams() * 4);
    assertThat(b.trainableBytes()).isEqualTo(4L * m.totalParams());
    assertThat(b.gradientBytes()).isEqualTo(4L * m.totalParams());
    MemoryBreakdown half = est.estimate(m, MemorySettings.of("full", 0, 1, 512).withDtype(Precision.BF16)
        .withMasterWeights(true));
    assertThat(half.trainableBytes()).isEqualTo(6L * m.totalParams()); // bf16 copy + fp32 master
  }

  @Test
  void activationsFollowKorthikantiAtSixteenBitWithDropout() throws Exception {
    // Korthikanti et al. 2022: s b h (34 + 5 a s / h) bytes per layer
    ModelShape g = ModelShape.of("gpt3-175b");
    long s = 2048;
    long b = 1;
    long h = 12288;
    long a = 96;
    long expected = s * b * h * 34 + 5 * a * s * s * b;
    assertThat(ActivationModel.perLayerBytes(g, b, s, Precision.FP16)).isEqualTo(expected);
    assertThat(ActivationModel.stackBytes(g, b, s, Precision.FP16, false)).isEqualTo(96 * expected);
    // full recomputation: 2 s b h per layer (the layer inputs in fp16) plus one layer recomputed
    assertThat(ActivationModel.stackBytes(g, b, s, Precision.FP16, true)).isEqualTo(96 * 2 * s * b * h + expected);
  }

  @Test
  void llamaActivationsUseSwiGluAndNoDropout() throws Exception {
    ModelShape m = ModelShape.of("llama-7b");
    long s = 512;
    long sbh = s * 4096;
    long sbi = s * 11008;
    long as2b = 32 * s * s;
    // attention 5 sbh + a s^2 b, MLP sbh + 4 s b i, norms 2 sbh; 2-byte elements, no masks
    assertThat(ActivationModel.perLayerBytes(m, 1, s, Precision.BF16))
        .isEqualTo(2 * (8 * sbh + as2b + 4 * sbi));
  }

  /**
   * A frozen head's loss is computed a vocabulary chunk at a time (no [b s, V] logits); full
   * fine-tuning trains the head and keeps the logits and their gradient.
   */
  @Test
  void aFrozenHeadHoldsNoLogits() throws Exception {
    ModelShape m = ModelShape.of("llama-7b");
    MemorySettings lora = MemorySettings.of("lora", 16, 1, 256).withTargets(List.of(Targets.ALL_LINEAR));
    MemorySettings full = MemorySettings.of("full", 0, 1, 256);
    long stack = ActivationModel.stackBytes(m, 1, 256, Precision.FP32, false);
    long adapters = 32L * 7 * 256 * 16 * 4; // A x of each adapted site
    assertThat(est.estimate(m, lora).activationBytes()).isEqualTo(stack + adapters
        + ActivationModel.fusedHeadBytes(m, 1, 256, LmHeadCrossEntropy.DEFAULT_CHUNK_ROWS));
    assertThat(est.estimate(m, full).activationBytes()).isEqualTo(stack + ActivationModel.logitsBytes(m, 1, 256));
    // 3 [256, 4096] fp32 arrays and a [256, 1024] chunk instead of 2 of [256, 32000]
    assertThat(ActivationModel.fusedHeadBytes(m, 1, 256, 1024)).isEqualTo(12L * (256 * 4096 + 1) + 4L * 256 * 1024);
  }

  @Test
  void qloraStoresLinearWeightsAt4Point127Bits() throws Exception {
    assertThat(MemoryEstimator.nf4BitsPerParam(true)).isEqualTo(4 + 8.0 / 64 + 32.0 / (64 * 256));
    assertThat(MemoryEstimator.nf4BitsPerParam(false)).isEqualTo(4.5);
    ModelShape m = ModelShape.of("llama-7b");
    MemoryBreakdown q = est.estimate(m, MemorySettings.of("qlora", 64, 1, 512).withDtype(Precision.BF16));
    long linear = m.linearParams(); // lm_head excluded: it stays bf16
    assertThat(q.frozenBytes()).isEqualTo((m.totalParams() - linear) * 2);
    // 4.127 bits per parameter, plus each weight's own double-quantization offset and rounding
    assertThat((double) q.quantizedBytes()).isCloseTo(linear * 4.126953125 / 8, within(1e-6 * linear));
    // r = 64 on all 7 linear layers of 32 blocks: 32 x 64 x (4 x 8192 + 3 x (4096 + 11008))
    assertThat(q.trainableParams()).isEqualTo(32L * 64 * (4 * 8192 + 3 * (4096 + 11008)));
  }

  @Test
  void variantsWithOtherCountsOrFrozenState() throws Exception {
    ModelShape m = ModelShape.of("roberta-base");
    List<String> qv = List.of("query", "value");
    MemorySettings lora = MemorySettings.of("lora", 8, 8, 128).withTargets(qv);
    long l = est.estimate(m, lora).trainableParams();
    assertThat(l).isEqualTo(12L * 2 * 8 * (768 + 768)); // 294,912 (LoRA Table 2: 0.3M)
    // DoRA: + one magnitude per output unit
    assertThat(est.estimate(m, lora.withVariant("dora")).trainableParams()).isEqualTo(l + 24L * 768);
    // AdaLoRA: + E, r values per site
    assertThat(est.estimate(m, lora.withVariant("adalora")).trainableParams()).isEqualTo(l + 24L * 8);
    // VeRA: d (r) and b (out) per site trainable; A [r, 768] and B [768, r] frozen at every site
    MemoryBreakdown vera = est.estimate(m, lora.withVariant("vera"));
    assertThat(vera.trainableParams()).isEqualTo(24L * (8 + 768));
    assertThat(vera.frozenBytes()).isEqualTo(4L * m.totalParams() + 4L * 24 * 8 * (768 + 768)); // per site
    // LoRA-FA: B trains, A frozen
    MemoryBreakdown fa = est.estimate(m, lora.withVariant("lora-fa"));
    assertThat(fa.trainableParams()).isEqualTo(24L * 8 * 768);
    assertThat(fa.frozenBytes()).isEqualTo(4L * m.totalParams() + 4L * 24 * 8 * 768);
  }

  @Test
  void modelDirectoryIsReadFromConfigJson(@TempDir Path dir) throws Exception {
    Files.writeString(dir.resolve("config.json"), """
        {"model_type": "llama", "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
         "num_attention_heads": 4, "num_key_value_heads": 4, "vocab_size": 100,
         "max_position_embeddings": 128, "rms_norm_eps": 1e-6, "tie_word_embeddings": false}
        """);
    ModelShape m = ModelShape.of(dir.toString());
    assertThat(m.layers()).isEqualTo(2);
    assertThat(m.gatedMlp()).isTrue();
    // 2 x (4 x 64^2 + 3 x 64 x 128) + lm_head 100 x 64 + embeddings 100 x 64 + norms (2 x 2 + 1) x 64
    assertThat(m.totalParams()).isEqualTo(2L * (4 * 64 * 64 + 3 * 64 * 128) + 2 * 6400 + 5 * 64);
    assertThatThrownBy(() -> ModelShape.of("no-such-card")).hasMessageContaining("no-such-card")
        .hasMessageContaining("llama-65b");
  }

  @Test
  void settingsRejectBadValuesNamingTheField() {
    assertThatThrownBy(() -> MemorySettings.of("lora", 0, 1, 1)).hasMessageContaining("rank = 0");
    assertThatThrownBy(() -> MemorySettings.of("lora", 8, 0, 1)).hasMessageContaining("batch = 0");
    assertThatThrownBy(() -> Precision.parse("fp8")).hasMessageContaining("fp8").hasMessageContaining("bf16");
    assertThatThrownBy(() -> MemorySettings.Optimizer.parse("lion")).hasMessageContaining("adamw-8bit");
  }

  /** An embedding table named in the targets is an adapted site: r (vocab + hidden) parameters. */
  @Test
  void anEmbeddingTargetCountsItsTable() {
    var c = new dev.loraj.core.model.bert.BertConfig(100, 16, 1, 2, 32, "gelu", 16, 2, 1e-12, 0.0, 0.0);
    var bert = dev.loraj.core.model.bert.BertModel.random(c, dev.loraj.core.model.bert.BertModel.Pooling.MEAN, 3, 7);
    ModelShape shape = ModelShape.of(bert);
    MemorySettings s = MemorySettings.of("lora", 4, 2, 8).withTargets(List.of("word_embeddings", "query"));
    assertThat(est.estimate(shape, s).trainableParams()).isEqualTo(4L * (100 + 16) + 4L * (16 + 16));
    assertThat(shape.linearParams()).as("the table is not a linear weight").isEqualTo(
        bert.linearSites().stream().filter(x -> !x.outputHead()).mapToLong(x -> (long) x.in() * x.out()).sum());
  }
}
