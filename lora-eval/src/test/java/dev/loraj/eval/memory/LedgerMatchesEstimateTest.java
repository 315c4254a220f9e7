package dev.loraj.eval.memory;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import dev.loraj.core.adapter.AdapterConfig;
import dev.loraj.core.adapter.AdapterFactory;
import dev.loraj.core.adapter.AdapterRegistry;
import dev.loraj.core.adapter.AdapterSpec;
import dev.loraj.core.engine.MemoryLedger;
import dev.loraj.core.model.ArchitectureCards;
import dev.loraj.core.model.BaseModel;
import dev.loraj.core.model.PeftModel;
import dev.loraj.core.model.Targets;
import dev.loraj.core.model.bert.BertConfig;
import dev.loraj.core.model.bert.BertModel;
import dev.loraj.core.model.bert.TokenBatch;
import dev.loraj.core.train.Batches;
import dev.loraj.core.train.Objective;
import dev.loraj.core.train.TrainConfig;
import dev.loraj.core.train.Trainer;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * The measured ledger (what the model and the trainer's session hold after a few replayed
 * training steps, counted from their arrays) against {@link MemoryEstimator}, for every
 * registered variant, full fine-tuning and head-only training, on a small BERT classifier with
 * adapters on every linear layer and the head trained: frozen, quantized, trainable, gradients and
 * optimizer state agree within 1%.
 */
class LedgerMatchesEstimateTest {

  private static final AdapterRegistry REGISTRY = AdapterRegistry.discover();
  private static final BertConfig CONFIG = new BertConfig(60, 64, 2, 4, 128, "gelu", 16, 2, 1e-12, 0.0, 0.0);
  private static final int RANK = 4;
  private static final int BATCH = 4;
  private static final int SEQ = 8;

  @TestFactory
  Stream<DynamicTest> everyRegisteredVariant() {
    return REGISTRY.names().stream().map(n -> DynamicTest.dynamicTest(n, () -> check(n)));
  }

  @Test
  void fullFineTuning() {
    check("full");
  }

  @Test
  void headOnly() {
    check(MemoryEstimator.HEAD_ONLY);
  }

  private static void check(String variant) {
    BaseModel base = BertModel.random(CONFIG, BertModel.Pooling.MEAN, 3, 7);
    PeftModel pm = new PeftModel(base, REGISTRY);
    java.util.Set<String> head = new LinkedHashSet<>();
    base.weights().keySet().stream().filter(w -> w.startsWith("classifier.")).forEach(head::add);
    long headParams = head.stream().mapToLong(w -> base.weights().get(w).length()).sum();
    ModelShape shape = ModelShape.of(base);
    MemorySettings settings = MemorySettings.of(variant, variant.equals("full") ? 0 : RANK, BATCH, SEQ)
        .withTargets(List.of(Targets.ALL_LINEAR));
    long trainedBase = headParams;
    switch (variant) {
      case "full" -> {
        pm.addTrainableBase(new LinkedHashSet<>(base.weights().keySet()));
        trainedBase = 0;
      }
      case MemoryEstimator.HEAD_ONLY -> pm.addTrainableBase(head);
      default -> {
        pm.calibrate(List.of(batch(0)));
        AdapterFactory<?> f = REGISTRY.get(variant);
        AdapterConfig cfg = f.defaultConfig().withRankAndAlpha(RANK, f.defaultConfig().alpha());
        Targets t = ArchitectureCards.targets(List.of(Targets.ALL_LINEAR), base.linearSites())
            .withModulesToSave("classifier");
        pm.addAdapter("default", new AdapterSpec(cfg, t), 3);
        pm.clearCalibration();
      }
    }
    MemoryLedger ledger = new MemoryLedger();
    try (Trainer.Session s = new Trainer(TrainConfig.of(4, 1e-3, 1)).start(pm, Objective.classification())) {
      Batches batches = (step, micro) -> batch(step);
      for (int step = 1; step <= 4; step++) {
        s.step(step, batches);
      }
      pm.addTo(ledger);
      s.addTo(ledger);
    }
    MemoryBreakdown est = new MemoryEstimator(REGISTRY).estimate(shape, settings, trainedBase);
    Map<String, Long> expected = est.byCategory();
    for (String c : List.of("frozen", "quantized", "trainable", "gradients", "optimizer")) {
      long measured = ledger.byId().get(c);
      long estimated = expected.get(c);
      assertThat((double) measured).as("%s: %s measured %d, estimated %d (%s)", variant, c, measured, estimated,
          ledger).isCloseTo(estimated, within(0.01 * estimated + 1e-9));
    }
  }

  private static Map<String, INDArray> batch(long step) {
    long[][] ids = new long[BATCH][SEQ];
    long[][] mask = new long[BATCH][SEQ];
    long[][] types = new long[BATCH][SEQ];
    INDArray labels = Nd4j.zeros(DataType.FLOAT, BATCH, 3);
    for (int b = 0; b < BATCH; b++) {
      for (int t = 0; t < SEQ; t++) {
        ids[b][t] = (step * 7 + b * 13 + t * 5) % CONFIG.vocabSize();
        mask[b][t] = 1;
      }
      labels.putScalar(b, (int) ((step + b) % 3), 1f);
    }
    Map<String, INDArray> m = new HashMap<>(BertModel.inputs(new TokenBatch(ids, mask, types)));
    m.put("labels", labels);
    return m;
  }
}
