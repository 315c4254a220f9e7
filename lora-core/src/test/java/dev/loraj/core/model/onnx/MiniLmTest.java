package dev.loraj.core.model.onnx;

import dev.loraj.core.model.bert.TokenBatch;
import static org.assertj.core.api.Assertions.assertThat;

import dev.loraj.core.model.bert.BertCheckpoint;
import dev.loraj.core.model.bert.BertConfig;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.ops.transforms.Transforms;

/**
 * all-MiniLM-L6-v2 from the class path: weight extraction, config derivation, tokenizer, and an
 * eager ND4J forward over the extracted weights against ONNX Runtime on the original graph.
 */
class MiniLmTest {

  static final List<String> SENTENCES = MiniLmFixture.SENTENCES;

  private static BertCheckpoint checkpoint;
  private static MiniLmTokenizer tokenizer;

  @BeforeAll
  static void load() throws Exception {
    checkpoint = MiniLmFixture.checkpoint();
    tokenizer = MiniLm.embeddedTokenizer();
  }

  @AfterAll
  static void close() {
    tokenizer.close();
  }

  @Test
  void configIsDerivedFromTheGraph() {
    // values of sentence-transformers/all-MiniLM-L6-v2 config.json
    assertThat(checkpoint.config()).isEqualTo(new BertConfig(
        30522, 384, 6, 12, 1536, "gelu", 512, 2, 1e-12, 0.1, 0.1));
  }

  @Test
  void weightsHaveHuggingFaceNamesAndTorchShapes() {
    Map<String, long[]> expected = BertCheckpoint.expectedShapes(checkpoint.config());
    assertThat(expected).hasSize(5 + 6 * 16);
    assertThat(checkpoint.weights().keySet()).containsExactlyInAnyOrderElementsOf(expected.keySet());
    expected.forEach((name, shape) ->
        assertThat(checkpoint.weight(name).shape()).as(name).containsExactly(shape));
    assertThat(checkpoint.weight("encoder.layer.0.intermediate.dense.weight").shape())
        .containsExactly(1536, 384); // [out, in]
    assertThat(checkpoint.weights().values()).allSatisfy(w -> assertThat(w.ordering()).isEqualTo('c'));
  }

  @Test
  void tokenizerAddsSpecialTokensAndPadsToTheLongestRow() {
    TokenBatch batch = tokenizer.encode(SENTENCES, 128);
    // bert-base-uncased vocabulary: [CLS] = 101, hello = 7592, world = 2088, [SEP] = 102
    assertThat(batch.inputIds()[0]).startsWith(101, 7592, 2088, 102);
    assertThat(batch.attentionMask()[0]).startsWith(1, 1, 1, 1, 0);
    assertThat(batch.seqLength()).isEqualTo(java.util.Arrays.stream(batch.attentionMask())
        .mapToInt(row -> (int) java.util.Arrays.stream(row).sum()).max().orElseThrow());
    for (int i = 0; i < batch.batchSize(); i++) {
      int n = (int) java.util.Arrays.stream(batch.attentionMask()[i]).sum();
      assertThat(batch.inputIds()[i][n - 1]).isEqualTo(102);
      for (int t = n; t < batch.seqLength(); t++) {
        assertThat(batch.inputIds()[i][t]).isZero();
      }
    }
    for (long[] row : batch.tokenTypeIds()) {
      assertThat(row).containsOnly(0L);
    }
  }

  @Test
  void tokenizerTruncatesKeepingSep() {
    TokenBatch batch = tokenizer.encode(SENTENCES, 6);
    assertThat(batch.seqLength()).isEqualTo(6);
    assertThat(batch.inputIds()[1][0]).isEqualTo(101);
    assertThat(batch.inputIds()[1][5]).isEqualTo(102);
    assertThat(batch.inputIds()[0]).containsExactly(101, 7592, 2088, 102, 0, 0);
  }

  @Test
  void tokenizerLoadsFromAFile(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir)
      throws Exception {
    java.nio.file.Path file = dir.resolve("tokenizer.json");
    java.nio.file.Files.write(file, MiniLm.readResource(MiniLm.TOKENIZER_RESOURCE));
    try (MiniLmTokenizer fromFile = MiniLmTokenizer.fromFile(file)) {
      assertThat(fromFile.encode(List.of("Hello world"), 16).inputIds()[0])
          .containsExactly(101, 7592, 2088, 102);
    }
  }

  @Test
  void eagerForwardOverExtractedWeightsMatchesOnnxRuntime() throws Exception {
    TokenBatch batch = MiniLmFixture.batch();
    INDArray expected = MiniLmFixture.ortLastHiddenState();
    INDArray actual = EagerBert.lastHiddenState(checkpoint, batch);
    assertThat(actual.shape()).containsExactly(expected.shape());
    double maxAbsDiff = Transforms.abs(actual.sub(expected)).maxNumber().doubleValue();
    System.out.printf("eager vs ORT last_hidden_state %s: max |diff| = %.3g%n",
        java.util.Arrays.toString(actual.shape()), maxAbsDiff);
    assertThat(maxAbsDiff).isLessThanOrEqualTo(1e-4);
  }
}
