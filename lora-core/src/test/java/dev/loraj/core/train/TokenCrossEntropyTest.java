package dev.loraj.core.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.loraj.core.adapter.AdapterSpec;
import dev.loraj.core.engine.Engine;
import dev.loraj.core.graph.BlockRecomputeTest;
import dev.loraj.core.graph.Graphs;
import dev.loraj.core.graph.ReplayCache;
import dev.loraj.core.graph.VectorKernelOp;
import dev.loraj.core.lora.LoraConfig;
import dev.loraj.core.model.PeftModel;
import dev.loraj.core.model.Targets;
import dev.loraj.core.testing.ExactArrays;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.autodiff.samediff.api.OutAndGrad;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * {@link Objective#tokenCrossEntropy()} against {@link Objective#classification()} fed one-hot
 * rows of the same labels: loss within 1e-6 relative and the logits' gradient within 1e-6 of its
 * largest entry, in the optimized engine (the fused kernel, through SameDiff, recorded and
 * replayed: the replayed runs bit-identical to the first), with the kernels switched off (ND4J
 * op chain, replayed) and in the portable engine (ND4J ops).
 * Ignored positions (-100) contribute nothing; a bad label is an error naming it (fused kernel) or a
 * non-finite loss (ND4J op chain).
 */
class TokenCrossEntropyTest {
  static final int ROWS = 37;
  static final int VOCAB = 45; // not a multiple of a vector width: tails are exercised
  static final double TOLERANCE = 1e-6;

  /** Loss and the gradient of the logits (a variable: its gradient is the loss op's own). */
  record LossAndGrad(double loss, INDArray grad) {}

  private static LossAndGrad run(Objective objective, INDArray logits, String label, INDArray labels) {
    SameDiff sd = Graphs.newSameDiff();
    SDVariable x = sd.var("logits", logits.dup());
    SDVariable loss = objective.loss(sd, x);
    loss.markAsLoss();
    Graphs.createGradFunction(sd, List.of());
    ReplayCache cache = new ReplayCache();
    LossAndGrad first = null;
    for (int run = 0; run < 3; run++) { // SameDiff, recorded, replayed
      OutAndGrad og = Graphs.gradientsAndOutputs(sd, Map.of(label, labels), List.of(loss.name()),
          List.of("logits"), cache);
      LossAndGrad r = new LossAndGrad(og.getOutputs().get(loss.name()).getDouble(0),
          og.getGradients().get("logits").dup());
      if (first == null) {
        first = r;
      } else {
        assertThat(r.loss()).as("run %d", run).isEqualTo(first.loss());
        ExactArrays.assertBitIdentical(r.grad(), first.grad(), "run " + run);
      }
    }
    assertThat(cache.unsupported()).isNull();
    cache.close();
    return first;
  }

  private static INDArray logits(long seed) {
    Nd4j.getRandom().setSeed(seed);
    return Nd4j.randn(DataType.FLOAT, ROWS, VOCAB).muli(3);
  }

  private static long[] labels(SplittableRandom rnd) {
    long[] ids = new long[ROWS];
    for (int i = 0; i < ROWS; i++) {
      ids[i] = rnd.nextInt(VOCAB);
    }
    ids[0] = 0;
    ids[1] = VOCAB - 1;
    return ids;
  }

  /** One-hot rows of the counted labels, [counted, vocab]. */
  private static INDArray oneHot(long[] ids) {
    long counted = java.util.Arrays.stream(ids).filter(i -> i >= 0).count();
    INDArray y = Nd4j.zeros(DataType.FLOAT, counted, VOCAB);
    int r = 0;
    for (long id : ids) {
      if (id >= 0) {
        y.putScalar(r++, id, 1f);
      }
    }
    return y;
  }

  /** The rows of {@code a} whose label counts. */
  private static INDArray countedRows(INDArray a, long[] ids) {
    List<Long> keep = new ArrayList<>();
    for (int i = 0; i < ids.length; i++) {
      if (ids[i] >= 0) {
        keep.add((long) i);
      }
    }
    return a.get(org.nd4j.linalg.indexing.NDArrayIndex.indices(keep.stream().mapToLong(l -> l).toArray()),
        org.nd4j.linalg.indexing.NDArrayIndex.all()).dup();
  }

  /** The engines the objective runs in: fused kernel, ND4J op chain replayed, portable. */
  enum Setup { OPTIMIZED, NO_VECTOR_KERNELS, PORTABLE }

  private static Engine.Scope use(Setup setup) {
    if (setup != Setup.NO_VECTOR_KERNELS) {
      return Engine.use(setup == Setup.OPTIMIZED ? Engine.Mode.OPTIMIZED : Engine.Mode.PORTABLE);
    }
    Engine.current(); // the detected engine is settled before the switch is touched
    String before = System.getProperty("loraj.vectorKernels");
    System.setProperty("loraj.vectorKernels", "false");
    try {
      return Engine.use(Engine.Mode.OPTIMIZED); // reads the switch now
    } finally {
      if (before == null) {
        System.clearProperty("loraj.vectorKernels");
      } else {
        System.setProperty("loraj.vectorKernels", before);
      }
    }
  }

  private static void sameAsOneHot(Setup mode, long[] ids) {
    try (Engine.Scope scope = use(mode)) {
      INDArray x = logits(7);
      LossAndGrad byIds = run(Objective.tokenCrossEntropy(), x, Objective.LABEL_IDS, Nd4j.createFromArray(ids));
      LossAndGrad byOneHot = run(Objective.classification(), countedRows(x, ids), "labels", oneHot(ids));
      assertThat(Math.abs(byIds.loss() - byOneHot.loss())).as("%s: loss %s vs %s", mode, byIds.loss(), byOneHot.loss())
          .isLessThanOrEqualTo(TOLERANCE * Math.abs(byOneHot.loss()));
      INDArray g = byIds.grad();
      double scale = byOneHot.grad().amaxNumber().doubleValue();
      assertThat(countedRows(g, ids).sub(byOneHot.grad()).amaxNumber().doubleValue())
          .as("%s: gradient", mode).isLessThanOrEqualTo(TOLERANCE * scale);
      for (int i = 0; i < ids.length; i++) {
        if (ids[i] < 0) {
          assertThat(g.getRow(i).amaxNumber().doubleValue()).as("%s: ignored row %d", mode, i).isZero();
        }
      }
    }
  }

  @Test
  void lossAndGradientEqualTheOneHotObjectives() {
    long[] ids = labels(new SplittableRandom(3));
    for (Setup setup : Setup.values()) {
      sameAsOneHot(setup, ids);
    }
  }

  @Test
  void ignoredPositionsContributeNothing() {
    long[] ids = labels(new SplittableRandom(4));
    for (int i = 2; i < ROWS; i += 3) {
      ids[i] = VectorKernelOp.IGNORE_INDEX;
    }
    for (Setup setup : Setup.values()) {
      sameAsOneHot(setup, ids);
    }
    // no counted row at all: loss 0 and no gradient, not 0/0
    long[] none = new long[ROWS];
    java.util.Arrays.fill(none, VectorKernelOp.IGNORE_INDEX);
    for (Setup mode : Setup.values()) {
      try (Engine.Scope scope = use(mode)) {
        LossAndGrad r = run(Objective.tokenCrossEntropy(), logits(8), Objective.LABEL_IDS, Nd4j.createFromArray(none));
        assertThat(r.loss()).as("%s", mode).isZero();
        assertThat(r.grad().amaxNumber().doubleValue()).as("%s", mode).isZero();
      }
    }
  }

  @Test
  void aBadLabelIsAnErrorNamingItAndTheVocabulary() {
    for (long bad : new long[] {VOCAB, -1, 1_000_000}) {
      long[] ids = labels(new SplittableRandom(5));
      ids[6] = bad;
      try (Engine.Scope scope = use(Setup.OPTIMIZED)) {
        assertThatThrownBy(() -> run(Objective.tokenCrossEntropy(), logits(9), Objective.LABEL_IDS, Nd4j.createFromArray(ids)))
            .hasStackTraceContaining("row 6 has label " + bad)
            .hasStackTraceContaining("vocabulary size " + VOCAB);
      }
      for (Setup chain : List.of(Setup.NO_VECTOR_KERNELS, Setup.PORTABLE)) { // ND4J ops: a non-finite loss
        try (Engine.Scope scope = use(chain)) {
          double loss = run(Objective.tokenCrossEntropy(), logits(9), Objective.LABEL_IDS, Nd4j.createFromArray(ids)).loss();
          assertThat(Double.isFinite(loss)).as("%s, label %d: loss %s", chain, bad, loss).isFalse();
        }
      }
    }
  }

  /** Losses of 6 LoRA steps of a tiny Llama (replayed from step 3 on). */
  private static List<Double> llamaLosses(Objective objective, boolean ids, boolean checkpointing) {
    PeftModel pm = BlockRecomputeTest.llama();
    pm.addAdapter("default", new AdapterSpec(LoraConfig.of(4, 8), Targets.allLinear()), 5);
    List<Double> losses = new ArrayList<>();
    try (Trainer.Session s = new Trainer(TrainConfig.of(6, 1e-2, 5)).checkpointing(checkpointing)
        .start(pm, objective)) {
      for (long step = 1; step <= 6; step++) {
        Map<String, INDArray> batch = new java.util.LinkedHashMap<>(BlockRecomputeTest.llamaBatch(step));
        if (ids) {
          batch.put(Objective.LABEL_IDS, batch.remove("labels").argMax(1)); // the one-hot rows' tokens
        }
        losses.add(s.step(step, (st, micro) -> batch));
      }
      assertThat(s.replayUnsupported()).isNull();
      assertThat(s.recomputedBlocks() > 0).isEqualTo(checkpointing);
    }
    return losses;
  }

  /** A short Llama run trains as with one-hot labels: the same losses within float rounding (1e-5 relative). */
  @Test
  void llamaTrainsAsWithOneHotLabels() {
    try (Engine.Scope scope = use(Setup.OPTIMIZED)) {
      List<Double> oneHot = llamaLosses(Objective.classification(), false, false);
      for (boolean checkpointing : new boolean[] {false, true}) {
        List<Double> byIds = llamaLosses(Objective.tokenCrossEntropy(), true, checkpointing);
        for (int i = 0; i < oneHot.size(); i++) {
          assertThat(Math.abs(byIds.get(i) - oneHot.get(i))).as("step %d, checkpointing %s: %s vs %s", i + 1,
              checkpointing, byIds.get(i), oneHot.get(i)).isLessThanOrEqualTo(1e-5 * oneHot.get(i));
        }
      }
    }
  }
}
