package dev.loraj.core.model.bert;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class BertConfigTest {

  /** The architecture keys of sentence-transformers/all-MiniLM-L6-v2's config.json, plus extras. */
  static final String HF_CONFIG = """
      {"_name_or_path": "nreimers/MiniLM-L6-H384-uncased", "architectures": ["BertModel"],
       "attention_probs_dropout_prob": 0.1, "gradient_checkpointing": false, "hidden_act": "gelu",
       "hidden_dropout_prob": 0.1, "hidden_size": 384, "initializer_range": 0.02,
       "intermediate_size": 1536, "layer_norm_eps": 1e-12, "max_position_embeddings": 512,
       "model_type": "bert", "num_attention_heads": 12, "num_hidden_layers": 6, "pad_token_id": 0,
       "position_embedding_type": "absolute", "type_vocab_size": 2, "vocab_size": 30522}
      """;

  @Test
  void readsHuggingFaceConfigJsonAndRoundTrips(@TempDir Path dir) throws Exception {
    Path file = dir.resolve("config.json");
    Files.writeString(file, HF_CONFIG);
    BertConfig c = BertConfig.read(file);
    assertThat(c).isEqualTo(new BertConfig(30522, 384, 6, 12, 1536, "gelu", 512, 2, 1e-12, 0.1, 0.1));
    assertThat(c.headSize()).isEqualTo(32);
    Path out = dir.resolve("out.json");
    c.write(out);
    assertThat(BertConfig.read(out)).isEqualTo(c);
    assertThat(new ObjectMapper().readTree(out.toFile()).get("num_attention_heads").asInt()).isEqualTo(12);
  }

  @Test
  void errorsNameTheFieldAndTheAcceptedValues() {
    assertThatThrownBy(() -> new BertConfig(30522, 384, 6, 10, 1536, "gelu", 512, 2, 1e-12, 0.1, 0.1))
        .hasMessageContaining("num_attention_heads = 10").hasMessageContaining("hidden_size = 384");
    assertThatThrownBy(() -> new BertConfig(30522, 384, 6, 12, 1536, "swish", 512, 2, 1e-12, 0.1, 0.1))
        .hasMessageContaining("hidden_act = swish").hasMessageContaining("gelu");
  }
}
