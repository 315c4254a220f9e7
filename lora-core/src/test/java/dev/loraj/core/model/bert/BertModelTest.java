package dev.loraj.core.model.bert;

import dev.loraj.core.testing.ExactArrays;
import static org.assertj.core.api.Assertions.assertThat;

import dev.loraj.core.adapter.AdapterRegistry;
import dev.loraj.core.adapter.AdapterSpec;
import dev.loraj.core.graph.Graphs;
import dev.loraj.core.lora.Fill;
import dev.loraj.core.lora.LoraAdapter;
import dev.loraj.core.lora.LoraConfig;
import dev.loraj.core.model.LinearSite;
import dev.loraj.core.model.ModelGraph;
import dev.loraj.core.model.ModelOutput;
import dev.loraj.core.model.PeftModel;
import dev.loraj.core.model.Targets;
import dev.loraj.core.model.onnx.MiniLmFixture;
import dev.loraj.core.train.Objective;
import dev.loraj.core.train.TrainConfig;
import dev.loraj.core.train.TrainResult;
import dev.loraj.core.train.Trainer;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * The SameDiff BERT against ONNX Runtime running the original all-MiniLM-L6-v2 graph
 * (reference: {@link MiniLmFixture#ortLastHiddenState()}), its pooling and head, and LoRA on it.
 */
class BertModelTest {

  /**
   * Softmax cross-entropy with log-softmax written out (logits - max - log sum exp):
   * {@code Objective.classification()} fails in M2.1's createGradFunction, whose graph clone
   * cannot restore LogSoftMax's dimension property ("Integer.values()").
   */
  static final Objective CROSS_ENTROPY = new Objective() {
    @Override
    public SDVariable loss(SameDiff sd, SDVariable logits) {
      SDVariable labels = sd.placeHolder("labels", DataType.FLOAT, -1, -1);
      SDVariable shifted = logits.sub(logits.max(true, 1));
      SDVariable logp = shifted.sub(sd.math().log(sd.math().exp(shifted).sum(true, 1)));
      return labels.mul(logp).sum(1).mean().neg(); // -mean_i sum_c y_ic log p_ic
    }

    @Override
    public List<String> labelInputs() {
      return List.of("labels");
    }
  };

  private static BertCheckpoint checkpoint;
  private static TokenBatch batch;
  private static Map<String, INDArray> inputs;
  private static INDArray ortHidden; // [b, s, 384]

  @BeforeAll
  static void load() throws Exception {
    checkpoint = MiniLmFixture.checkpoint();
    batch = MiniLmFixture.batch();
    inputs = BertModel.inputs(batch);
    ortHidden = MiniLmFixture.ortLastHiddenState();
  }

  static INDArray forward(BertModel model) {
    SameDiff sd = Graphs.newSameDiff();
    ModelOutput out = model.build(new ModelGraph(sd, model, Set.of(), false, null, null, java.util.Map.of()));
    assertThat(out.inputs()).containsExactly("input_ids", "attention_mask", "token_type_ids");
    return Graphs.output(sd, inputs, out.output().name());
  }

  static double maxAbsDiff(INDArray a, INDArray b) {
    assertThat(a.shape()).containsExactly(b.shape());
    return a.sub(b).amaxNumber().doubleValue();
  }

  /** sentence-transformers mean pooling of ORT's hidden states: sum_t m_t h_t / sum_t m_t. */
  static INDArray ortMeanPooled() {
    INDArray mask = Nd4j.createFromArray(batch.attentionMask()).castTo(DataType.FLOAT);
    long b = ortHidden.size(0);
    INDArray pooled = Nd4j.create(DataType.FLOAT, b, ortHidden.size(2));
    for (int i = 0; i < b; i++) {
      INDArray m = mask.getRow(i); // [s]
      INDArray h = ortHidden.get(NDArrayIndex.point(i), NDArrayIndex.all(), NDArrayIndex.all());
      pooled.putRow(i, m.reshape(1, -1).mmul(h).div(m.sumNumber())); // [1, s] x [s, d]
    }
    return pooled;
  }

  @Test
  void encoderMatchesOnnxRuntime() {
    BertModel model = BertModel.of(checkpoint, BertModel.Pooling.NONE, 0, 1);
    INDArray hidden = forward(model).reshape(ortHidden.shape()); // [b*s, d] -> [b, s, d]
    double diff = maxAbsDiff(hidden, ortHidden);
    System.out.printf("SameDiff BERT vs ORT last_hidden_state: max |diff| = %.3g%n", diff);
    assertThat(diff).isLessThanOrEqualTo(1e-4);
  }

  @Test
  void meanAndClsPoolingMatchOnnxRuntime() {
    INDArray mean = forward(BertModel.of(checkpoint, BertModel.Pooling.MEAN, 0, 1));
    assertThat(maxAbsDiff(mean, ortMeanPooled())).isLessThanOrEqualTo(1e-4);
    INDArray cls = forward(BertModel.of(checkpoint, BertModel.Pooling.CLS, 0, 1));
    INDArray ortCls = ortHidden.get(NDArrayIndex.all(), NDArrayIndex.point(0), NDArrayIndex.all());
    assertThat(maxAbsDiff(cls, ortCls)).isLessThanOrEqualTo(1e-4);
  }

  @Test
  void classifierHeadOnMeanPooling() {
    BertModel model = BertModel.of(checkpoint, BertModel.Pooling.MEAN, 3, 42);
    INDArray w = model.weights().get("classifier.weight"); // [3, 384]
    assertThat(w.shape()).containsExactly(3, 384);
    assertThat(w.stdNumber().doubleValue()).isBetween(0.015, 0.025); // N(0, 0.02^2) init
    INDArray expected = ortMeanPooled().mmul(w.transpose()) // [b, d] x [d, 3]
        .addRowVector(model.weights().get("classifier.bias"));
    assertThat(maxAbsDiff(forward(model), expected)).isLessThanOrEqualTo(1e-4);
    assertThat(model.linearSites()).hasSize(6 * 6 + 1);
    LinearSite head = model.linearSites().get(model.linearSites().size() - 1);
    assertThat(head.path()).isEqualTo("classifier");
    assertThat(head.outputHead()).isTrue();
  }

  @Test
  void hfSequenceClassificationNamesLoad() {
    Map<String, INDArray> prefixed = new LinkedHashMap<>();
    checkpoint.weights().forEach((k, v) -> prefixed.put("bert." + k, v));
    prefixed.put("classifier.weight", Nd4j.zeros(DataType.FLOAT, 2, 384));
    prefixed.put("classifier.bias", Nd4j.zeros(DataType.FLOAT, 2));
    BertModel model = new BertModel(checkpoint.config(), prefixed, BertModel.Pooling.CLS, 2);
    assertThat(model.weights()).containsKeys("encoder.layer.5.output.dense.weight", "classifier.bias");
  }

  @Test
  void loraOnQueryAndValueIsANoOpAtInitAndTrainsOnlyAdapters() {
    BertModel base = BertModel.of(checkpoint, BertModel.Pooling.MEAN, 2, 3);
    INDArray before = forward(base);
    Map<String, INDArray> frozen = new HashMap<>();
    base.weights().forEach((k, v) -> frozen.put(k, v.dup()));

    PeftModel peft = new PeftModel(base, AdapterRegistry.discover());
    PeftModel.NamedAdapter lora = peft.addAdapter("default",
        new AdapterSpec(LoraConfig.of(4, 8), Targets.of("query", "value")), 17);
    assertThat(lora.sites()).hasSize(12);
    assertThat(lora.trainableParameters()).isEqualTo(12L * 4 * (384 + 384));
    assertThat(maxAbsDiff(peft.output(inputs), before)).isLessThanOrEqualTo(1e-6);

    Map<String, INDArray> data = new HashMap<>(inputs);
    data.put("labels", Nd4j.createFromArray(new float[][] {{1, 0}, {0, 1}, {1, 0}}));
    TrainResult result = new Trainer(TrainConfig.of(1, 1e-2, 5))
        .train(peft, CROSS_ENTROPY, (step, micro) -> data);
    assertThat(result.losses()).allSatisfy(l -> assertThat(l).isFinite());
    assertThat(maxAbsDiff(peft.output(inputs), before)).isGreaterThan(1e-6);
    frozen.forEach((k, v) ->
        ExactArrays.assertBitIdentical(base.weights().get(k), v, String.format("base %s unchanged", k)));
  }

  @Test
  void mixedBatchRowsEqualSingleAdapterOutputs() {
    BertModel base = BertModel.of(checkpoint, BertModel.Pooling.MEAN, 0, 1);
    PeftModel peft = new PeftModel(base, AdapterRegistry.discover());
    SplittableRandom rnd = new SplittableRandom(9);
    for (String name : List.of("a", "b")) {
      peft.addAdapter(name, new AdapterSpec(LoraConfig.of(2, 4), Targets.of("query", "value")), 5);
      // non-zero B so that the two adapters and the base differ
      peft.adapter(name).sites().values().forEach(ad -> Fill.normal(((LoraAdapter) ad).b(), 0, 0.05, rnd));
    }
    INDArray mixed = peft.outputMixed(inputs, List.of("a", PeftModel.BASE, "b"));
    peft.setActive("a");
    INDArray a = peft.output(inputs);
    peft.setActive("b");
    INDArray b = peft.output(inputs);
    INDArray plain = forward(base);
    assertThat(maxAbsDiff(a.getRow(0), plain.getRow(0))).isGreaterThan(1e-4);
    assertThat(maxAbsDiff(mixed.getRow(0), a.getRow(0))).isLessThanOrEqualTo(1e-5);
    assertThat(maxAbsDiff(mixed.getRow(1), plain.getRow(1))).isLessThanOrEqualTo(1e-5);
    assertThat(maxAbsDiff(mixed.getRow(2), b.getRow(2))).isLessThanOrEqualTo(1e-5);
  }
}
