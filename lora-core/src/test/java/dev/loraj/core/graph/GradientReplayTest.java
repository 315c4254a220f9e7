package dev.loraj.core.graph;

import dev.loraj.core.testing.ExactArrays;
import static org.assertj.core.api.Assertions.assertThat;

import dev.loraj.core.adapter.AdapterRegistry;
import dev.loraj.core.adapter.AdapterSpec;
import dev.loraj.core.golden.PeftGolden;
import dev.loraj.core.lora.LoraConfig;
import dev.loraj.core.model.BaseModel;
import dev.loraj.core.model.HfModels;
import dev.loraj.core.model.MlpModel;
import dev.loraj.core.model.PeftModel;
import dev.loraj.core.model.Targets;
import dev.loraj.core.model.bert.BertConfig;
import dev.loraj.core.model.bert.BertModel;
import dev.loraj.core.quant.QuantizedBase;
import dev.loraj.core.train.Objective;
import dev.loraj.core.train.TrainConfig;
import dev.loraj.core.train.TrainResult;
import dev.loraj.core.train.Trainer;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.BiFunction;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.autodiff.samediff.api.OutAndGrad;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * {@link GradientReplay} runs SameDiff's kernels in SameDiff's order on its own arrays: training
 * with it must give bit-identical losses and weights to training through SameDiff's session,
 * for every model family, with dropout, a quantized base (an op computed in Java), a batch shape
 * that changes between steps and parameter arrays that are replaced.
 */
class GradientReplayTest {
  static final AdapterRegistry REGISTRY = AdapterRegistry.discover();

  @AfterEach
  void restore() {
    GradientReplay.enabled = true;
  }

  /** Trains a fresh model with the replay on and off; both runs must agree bit for bit. */
  private static void sameTraining(String what, Supplier<PeftModel> model, Objective objective,
      BiFunction<Long, Integer, Map<String, INDArray>> batches, int steps) {
    List<List<Double>> losses = new ArrayList<>();
    List<Map<String, INDArray>> weights = new ArrayList<>();
    long replaysBefore = GradientReplay.REPLAYS.get();
    for (boolean replay : new boolean[] {true, false}) {
      GradientReplay.enabled = replay;
      PeftModel pm = model.get();
      TrainResult r = new Trainer(TrainConfig.of(steps, 1e-2, 5)).train(pm, objective, batches::apply);
      losses.add(r.losses());
      Map<String, INDArray> w = new LinkedHashMap<>();
      pm.adapter("default").sites().forEach((site, a) ->
          a.parameters().forEach((k, v) -> w.put(site + "." + k, v.dup())));
      weights.add(w);
      if (replay) {
        assertThat(GradientReplay.REPLAYS.get() - replaysBefore).as("%s: replayed steps", what)
            .isGreaterThanOrEqualTo(steps - 4L);
      }
    }
    assertThat(losses.get(0)).as("%s: losses", what).containsExactlyElementsOf(losses.get(1));
    assertThat(weights.get(0).keySet()).isNotEmpty().isEqualTo(weights.get(1).keySet());
    weights.get(0).forEach((k, v) ->
        ExactArrays.assertBitIdentical(v, weights.get(1).get(k), String.format("%s: %s", what, k)));
  }

  /** Next-token batches of one fixed token stream; steps 4 and 5 are shorter (another plan). */
  private static Map<String, INDArray> nextTokens(long step, int vocab) {
    int seq = step == 4 || step == 5 ? 5 : 7;
    long[][] ids = new long[2][seq];
    INDArray labels = Nd4j.zeros(DataType.FLOAT, 2L * seq, vocab);
    for (int b = 0; b < 2; b++) {
      for (int t = 0; t < seq; t++) {
        ids[b][t] = (step * 5 + b * 11 + t * 3) % vocab;
        labels.putScalar(b * seq + t, (step * 5 + b * 11 + (t + 1) * 3) % vocab, 1f);
      }
    }
    Map<String, INDArray> m = new LinkedHashMap<>();
    m.put("input_ids", Nd4j.createFromArray(ids));
    m.put("labels", labels);
    return m;
  }

  @Test
  void decoderFamiliesTrainBitForBitAsThroughSameDiff() {
    for (String family : new String[] {"llama-tiny", "gpt2-tiny"}) {
      sameTraining(family, () -> {
        BaseModel m;
        try {
          m = HfModels.load(PeftGolden.root().resolve(family));
        } catch (java.io.IOException e) {
          throw new java.io.UncheckedIOException(e);
        }
        PeftModel pm = new PeftModel(m, REGISTRY);
        // dropout: a random op in the replayed graph, seeded by the trainer
        pm.addAdapter("default", new AdapterSpec(LoraConfig.of(4, 8).withDropout(0.1),
            Targets.allLinear()), 5);
        return pm;
      }, Objective.classification(), (step, micro) -> nextTokens(step, 64), 9);
    }
  }

  @Test
  void bertClassifierTrainsBitForBitAsThroughSameDiff() {
    BertConfig c = new BertConfig(50, 32, 2, 4, 64, "gelu", 16, 2, 1e-12, 0.1, 0.1);
    sameTraining("bert", () -> {
      PeftModel pm = new PeftModel(BertModel.random(c, BertModel.Pooling.CLS, 3, 7), REGISTRY);
      pm.addAdapter("default", new AdapterSpec(LoraConfig.of(4, 8), Targets.of("query", "value")), 5);
      return pm;
    }, Objective.classification(), (step, micro) -> {
      int seq = step == 4 ? 6 : 9;
      long[][] ids = new long[3][seq];
      long[][] mask = new long[3][seq];
      long[][] types = new long[3][seq];
      INDArray labels = Nd4j.zeros(DataType.FLOAT, 3, 3);
      for (int b = 0; b < 3; b++) {
        for (int t = 0; t < seq; t++) {
          ids[b][t] = (step * 7 + b * 13 + t * 5) % 50;
          mask[b][t] = t < seq - b ? 1 : 0; // padded rows
        }
        labels.putScalar(b, (int) ((step + b) % 3), 1f);
      }
      Map<String, INDArray> m = new LinkedHashMap<>(BertModel.inputs(
          new dev.loraj.core.model.bert.TokenBatch(ids, mask, types)));
      m.put("labels", labels);
      return m;
    }, 8);
  }

  @Test
  void quantizedBaseTrainsBitForBitAsThroughSameDiff() {
    sameTraining("nf4 mlp", () -> {
      PeftModel pm = new PeftModel(MlpModel.random(List.of(64, 64, 64), MlpModel.Activation.GELU,
          false, 3), REGISTRY);
      QuantizedBase.quantizeNf4(pm, Targets.allLinear()); // dequantized by an op computed in Java
      pm.addAdapter("default", new AdapterSpec(LoraConfig.of(4, 8), Targets.allLinear()), 5);
      return pm;
    }, Objective.meanSquaredError(), (step, micro) -> Map.of(
        "x", Nd4j.rand(DataType.FLOAT, 6, 64).muli(step),
        "targets", Nd4j.rand(DataType.FLOAT, 6, 64)), 7);
  }

  /** Inference ({@code PeftModel.output}) replays too: the same outputs as SameDiff's, bit for bit. */
  @Test
  void inferenceOutputsAreBitIdenticalToSameDiffs() throws Exception {
    PeftModel pm = new PeftModel(HfModels.load(PeftGolden.root().resolve("llama-tiny")), REGISTRY);
    pm.addAdapter("default", new AdapterSpec(LoraConfig.of(4, 8), Targets.allLinear()), 5);
    long before = GradientReplay.REPLAYS.get();
    for (int run = 0; run < 6; run++) {
      Map<String, INDArray> in = Map.of("input_ids", nextTokens(run, 64).get("input_ids"));
      GradientReplay.enabled = true;
      INDArray replayed = pm.output(in).dup();
      GradientReplay.enabled = false;
      INDArray plain = pm.output(in);
      ExactArrays.assertBitIdentical(replayed, plain, String.format("run %d", run));
    }
    assertThat(GradientReplay.REPLAYS.get() - before).as("replayed runs").isGreaterThanOrEqualTo(2);
  }

  /** A parameter array replaced between runs (not updated in place) makes the plan rebuild. */
  @Test
  void replacedParameterArrayIsSeenByTheNextRun() {
    Nd4j.getRandom().setSeed(29);
    SameDiff sd = Graphs.newSameDiff();
    SDVariable x = sd.placeHolder("x", DataType.FLOAT, -1, 6);
    SDVariable w = sd.var("w", Nd4j.randn(DataType.FLOAT, 6, 4));
    SDVariable loss = sd.math().tanh(x.mmul(w)).mul(x.mmul(w)).mean();
    loss.markAsLoss();
    Graphs.createGradFunction(sd, List.of());
    INDArray xs = Nd4j.randn(DataType.FLOAT, 5, 6);
    long before = GradientReplay.REPLAYS.get();
    ReplayCache cache = new ReplayCache();
    for (int run = 0; run < 6; run++) {
      if (run == 4) {
        sd.getVariable("w").setArray(Nd4j.randn(DataType.FLOAT, 6, 4));
      }
      OutAndGrad ours = Graphs.gradientsAndOutputs(sd, Map.of("x", xs), List.of(loss.name()),
          List.of("w"), cache);
      INDArray g = ours.getGradients().get("w").dup();
      double l = ours.getOutputs().get(loss.name()).getDouble(0);
      OutAndGrad fresh = sd.calculateGradientsAndOutputs(Map.of("x", xs), List.of(loss.name()), List.of("w"));
      assertThat(l).as("run %d", run).isEqualTo(fresh.getOutputs().get(loss.name()).getDouble(0));
      ExactArrays.assertBitIdentical(g, fresh.getGradients().get("w"), String.format("run %d", run));
    }
    assertThat(GradientReplay.REPLAYS.get() - before).as("replayed runs").isGreaterThanOrEqualTo(2);
    assertThat(cache.unsupported()).isNull();
    cache.close();
  }
}
