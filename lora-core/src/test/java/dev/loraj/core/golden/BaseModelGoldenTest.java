package dev.loraj.core.golden;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.loraj.core.adapter.AdapterRegistry;
import dev.loraj.core.model.BaseModel;
import dev.loraj.core.model.HfModels;
import dev.loraj.core.model.PeftModel;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Base-model logits of the Java GPT-2 and Llama-family graphs against transformers (golden
 * peft_v1): Llama with grouped-query attention; Llama 3 shapes (grouped-query attention, tied
 * embeddings, llama3 rotary scaling); Qwen2 (q/k/v biases, tied embeddings).
 */
class BaseModelGoldenTest {

  @ParameterizedTest
  @ValueSource(strings = {"gpt2", "llama", "llama3", "qwen2"})
  void baseLogitsMatchTransformers(String family) throws Exception {
    JsonNode model = PeftGolden.index().path("models").path(family);
    BaseModel base = HfModels.load(PeftGolden.root().resolve(model.path("dir").asText()));
    assertThat(base.family()).isEqualTo(family.equals("gpt2") ? "gpt2" : "llama");
    PeftModel pm = new PeftModel(base, AdapterRegistry.discover());
    INDArray ids = PeftGolden.inputIds(model);
    INDArray logits = pm.output(Map.of("input_ids", ids));
    assertThat(logits.shape()).containsExactly(ids.length(), 64L);
    double diff = PeftGolden.maxAbsDiff(logits, PeftGolden.expected(model.path("base_logits_key").asText()));
    System.out.printf("golden %s base: max |diff| = %.3e%n", family, diff);
    assertThat(diff).isLessThanOrEqualTo(1e-4);
    // INT32 ids are cast to the INT64 placeholder
    INDArray logits32 = pm.output(Map.of("input_ids", ids.castTo(DataType.INT32)));
    assertThat(PeftGolden.maxAbsDiff(logits32, logits)).isZero();
  }
}
