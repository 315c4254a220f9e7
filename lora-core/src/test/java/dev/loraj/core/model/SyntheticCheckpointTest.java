package dev.loraj.core.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.loraj.core.adapter.AdapterRegistry;
import dev.loraj.core.io.SafetensorsDtype;
import dev.loraj.core.io.SafetensorsFile;
import dev.loraj.core.io.ShardedCheckpoint;
import dev.loraj.core.model.llama.LlamaModel;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

class SyntheticCheckpointTest {

  @TempDir Path tmp;

  /** Qwen2.5-0.5B's structure (GQA 14/2, q/k/v biases, tied head) at a tiny size. */
  private static final ArchitectureCards.Card TINY_QWEN =
      new ArchitectureCards.Card("tiny-qwen", "llama", 2, 56, 96, 7, 300, 1, 8, true, true);
  /** Llama 3.1's structure (GQA, untied head, llama3 rope) at a tiny size. */
  private static final ArchitectureCards.Card TINY_LLAMA3 =
      new ArchitectureCards.Card("tiny-llama3", "llama", 2, 64, 128, 4, 256, 2, 16, false, false);

  private static final INDArray IDS = Nd4j.createFromArray(new long[][] {{1, 5, 9, 200, 17}});

  @Test
  void shardedBf16QwenLoadsThroughTheCheckpointPathAndRuns() throws Exception {
    Path out = tmp.resolve("q");
    var cfg = SyntheticCheckpoint.config(TINY_QWEN, SyntheticCheckpoint.Release.QWEN_2_5, SafetensorsDtype.BF16);
    SyntheticCheckpoint.Written w = SyntheticCheckpoint.write(cfg, SafetensorsDtype.BF16, out, 7, 20_000);

    List<String> shards = w.files().stream().filter(f -> f.endsWith(".safetensors")).toList();
    assertThat(w.files()).contains("config.json", "model.safetensors.index.json");
    assertThat(shards).hasSizeGreaterThan(2).allMatch(f -> f.matches("model-\\d{5}-of-0000" + shards.size()
        + "\\.safetensors"));
    JsonNode config = new ObjectMapper().readTree(out.resolve("config.json").toFile());
    assertThat(config.path("model_type").asText()).isEqualTo("qwen2");
    assertThat(config.path("torch_dtype").asText()).isEqualTo("bfloat16");
    assertThat(config.path("rope_theta").asDouble()).isEqualTo(1e6);
    JsonNode index = new ObjectMapper().readTree(out.resolve("model.safetensors.index.json").toFile());
    assertThat(index.path("metadata").path("total_size").asLong()).isEqualTo(w.bytes()).isEqualTo(2 * w.parameters());
    try (ShardedCheckpoint cp = ShardedCheckpoint.open(out)) {
      assertThat(cp.names()).doesNotContain("lm_head.weight").contains("model.layers.1.self_attn.k_proj.bias");
      for (String n : cp.names()) {
        assertThat(cp.info(n).dtype()).isEqualTo(SafetensorsDtype.BF16);
      }
      assertThat(cp.metadata()).containsKey("total_size");
    }
    for (String f : shards) {
      try (SafetensorsFile sf = SafetensorsFile.open(out.resolve(f))) {
        assertThat(sf.metadata()).containsEntry("format", "pt");
      }
    }

    BaseModel m = HfModels.load(out);
    assertThat(m).isInstanceOf(LlamaModel.class);
    LlamaModel.Config c = ((LlamaModel) m).config();
    assertThat(c.kvHeads()).isEqualTo(1);
    assertThat(c.tieWordEmbeddings()).isTrue();
    assertThat(c.qkvBias()).isTrue();
    assertThat(m.parameterCount()).isEqualTo(w.parameters());
    INDArray emb = m.weights().get("model.embed_tokens.weight");
    assertThat(emb.stdNumber().doubleValue()).isBetween(0.018, 0.022);
    assertThat(emb.meanNumber().doubleValue()).isBetween(-0.002, 0.002);
    assertThat(m.weights().get("model.norm.weight").minNumber().doubleValue()).isEqualTo(1.0);
    assertThat(m.weights().get("model.layers.0.self_attn.q_proj.bias").amaxNumber().doubleValue()).isZero();

    INDArray logits = new PeftModel(m, AdapterRegistry.discover()).output(Map.of("input_ids", IDS));
    assertThat(logits.shape()).containsExactly(5, 300);
    assertThat(logits.isInfinite().any() || logits.isNaN().any()).isFalse();
  }

  @Test
  void singleShardF32Llama3IsOneFileWithLlama3RopeAndIsDeterministic() throws Exception {
    var cfg = SyntheticCheckpoint.config(TINY_LLAMA3, SyntheticCheckpoint.Release.LLAMA_3_1, SafetensorsDtype.F32);
    SyntheticCheckpoint.Written a =
        SyntheticCheckpoint.write(cfg, SafetensorsDtype.F32, tmp.resolve("a"), 3, SyntheticCheckpoint.DEFAULT_SHARD_BYTES);
    SyntheticCheckpoint.write(cfg, SafetensorsDtype.F32, tmp.resolve("b"), 3, SyntheticCheckpoint.DEFAULT_SHARD_BYTES);
    assertThat(a.files()).containsExactly("config.json", "model.safetensors");
    assertThat(Files.readAllBytes(tmp.resolve("a/model.safetensors")))
        .isEqualTo(Files.readAllBytes(tmp.resolve("b/model.safetensors")));
    LlamaModel m = (LlamaModel) HfModels.load(tmp.resolve("a"));
    assertThat(m.config().rope().type()).isEqualTo("llama3");
    assertThat(m.config().tieWordEmbeddings()).isFalse();
    assertThat(m.weights()).containsKey("lm_head.weight");
    INDArray logits = new PeftModel(m, AdapterRegistry.discover()).output(Map.of("input_ids", IDS));
    assertThat(logits.shape()).containsExactly(5, 256);
  }

  @Test
  void refusesANonEmptyDirectoryAndLeavesNoTemporaries() throws Exception {
    Path out = Files.createDirectory(tmp.resolve("full"));
    Files.writeString(out.resolve("keep.txt"), "x");
    var cfg = SyntheticCheckpoint.config(TINY_QWEN, SyntheticCheckpoint.Release.QWEN_2_5, SafetensorsDtype.F16);
    assertThatThrownBy(() -> SyntheticCheckpoint.write(cfg, SafetensorsDtype.F16, out, 1, 1 << 20))
        .isInstanceOf(FileAlreadyExistsException.class).hasMessageContaining("not empty");
    assertThat(Files.readString(out.resolve("keep.txt"))).isEqualTo("x");
    try (Stream<Path> s = Files.list(tmp)) {
      assertThat(s.map(p -> p.getFileName().toString()).toList()).containsExactly("full");
    }
  }

  @Test
  void cardsAreTheDecodersAndTheirConfigsMatchThePublishedShapes() {
    assertThat(SyntheticCheckpoint.cards()).contains("qwen2.5-0.5b", "llama-3.2-1b", "llama-3.2-3b", "llama-3.1-8b")
        .doesNotContain("roberta-base", "gpt2-medium");
    assertThatThrownBy(() -> SyntheticCheckpoint.card("roberta-base"))
        .hasMessageContaining("roberta-base").hasMessageContaining("qwen2.5-0.5b");
    ArchitectureCards.Card q = SyntheticCheckpoint.card("qwen2.5-0.5b");
    var qc = LlamaModel.Config.from(HfConfig.of("q", SyntheticCheckpoint.config(q,
        SyntheticCheckpoint.Release.of(q), SafetensorsDtype.BF16)));
    // Qwen2.5-0.5B has 494,032,768 parameters (its model card)
    long params = LlamaModel.expectedWeights(qc).shapes().values().stream()
        .mapToLong(s -> java.util.Arrays.stream(s).reduce(1, (x, y) -> x * y)).sum();
    assertThat(params).isEqualTo(494_032_768L);
    ArchitectureCards.Card l = SyntheticCheckpoint.card("llama-3.2-1b");
    var lc = LlamaModel.Config.from(HfConfig.of("l", SyntheticCheckpoint.config(l,
        SyntheticCheckpoint.Release.of(l), SafetensorsDtype.BF16)));
    assertThat(lc.rope().type()).isEqualTo("llama3");
    assertThat(lc.rope().factor()).isEqualTo(32.0);
    assertThat(List.of(lc.kvHeads(), lc.headDim())).containsExactly(8, 64);
  }
}
