package dev.loraj.core.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.loraj.core.adapter.AdapterSpec;
import dev.loraj.core.engine.Engine;
import dev.loraj.core.engine.Threads;
import dev.loraj.core.graph.BlockRecomputeTest;
import dev.loraj.core.graph.FrozenMatMul;
import dev.loraj.core.graph.Graphs;
import dev.loraj.core.graph.LmHeadCrossEntropy;
import dev.loraj.core.graph.ReplayCache;
import dev.loraj.core.graph.VectorKernelOp;
import dev.loraj.core.lora.LoraConfig;
import dev.loraj.core.model.ModelOutput;
import dev.loraj.core.model.PeftModel;
import dev.loraj.core.model.Targets;
import dev.loraj.core.model.gpt2.Gpt2Model;
import dev.loraj.core.model.llama.LlamaModel;
import dev.loraj.core.model.llama.RopeScaling;
import dev.loraj.core.quant.QuantFormat;
import dev.loraj.core.quant.QuantizedLinearOp;
import dev.loraj.core.quant.QuantizedWeight;
import dev.loraj.core.testing.ExactArrays;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.autodiff.samediff.api.OutAndGrad;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * {@link Objective#tokenCrossEntropy()} through a frozen head ({@link LmHeadCrossEntropy}, the
 * logits never formed) against the same objective on the head's logits: loss and dL/dh within
 * 1e-5 relative for a 16-bit and an NF4 table held quantized and a float32 table, with ignored
 * positions and a chunk smaller than (and not dividing) the vocabulary; SameDiff, recorded and
 * replayed runs bit-identical; two kernel threads as one within 1e-5; the label errors of the
 * unfused kernel; and 6 LoRA steps of a tied Llama with and without the fused head (and with
 * and without gradient checkpointing) with the same losses within 1e-5.
 */
class FusedLmHeadTest {
  static final int ROWS = 37;
  static final int VOCAB = 45;
  static final int E = 24;
  static final double TOLERANCE = 1e-5;

  private int oldChunk;
  private long oldMinPart;

  @BeforeEach
  void smallChunks() {
    oldChunk = LmHeadCrossEntropy.setChunkRows(8); // 6 chunks, the last one of 5 rows
    oldMinPart = Threads.setGemmMinPart(1);
  }

  @AfterEach
  void restore() {
    LmHeadCrossEntropy.setChunkRows(oldChunk);
    Threads.setGemmMinPart(oldMinPart);
    Threads.configure(1);
  }

  /** How the head weight is held. */
  enum Head { BF16, NF4, F32 }

  record LossAndGrad(double loss, INDArray grad) {}

  /** Loss and dL/dh of {@code h W^T} against {@code ids}, fused or through the logits. */
  private static LossAndGrad run(Head kind, INDArray w, INDArray h, long[] ids, boolean fused) {
    SameDiff sd = Graphs.newSameDiff();
    SDVariable hv = sd.var("h", h.dup());
    SDVariable logits;
    ModelOutput.FrozenHead head;
    if (kind == Head.F32) {
      SDVariable wc = sd.constant("w", w.dup());
      logits = FrozenMatMul.apply(sd, hv, wc, true);
      head = new ModelOutput.FrozenHead(hv, null, wc);
    } else {
      QuantizedWeight q = QuantizedWeight.quantize(w, kind == Head.BF16 ? QuantFormat.BF16 : QuantFormat.NF4,
          16, false);
      logits = QuantizedLinearOp.apply(sd, hv, q);
      head = new ModelOutput.FrozenHead(hv, q, null);
    }
    Objective o = Objective.tokenCrossEntropy();
    SDVariable loss = fused ? o.loss(sd, new ModelOutput(logits, List.of(), head)) : o.loss(sd, logits);
    loss.markAsLoss();
    Graphs.createGradFunction(sd, List.of());
    ReplayCache cache = new ReplayCache();
    LossAndGrad first = null;
    for (int run = 0; run < 3; run++) { // SameDiff, recorded, replayed
      OutAndGrad og = Graphs.gradientsAndOutputs(sd, Map.of(Objective.LABEL_IDS, Nd4j.createFromArray(ids)),
          List.of(loss.name()), List.of("h"), cache);
      LossAndGrad r = new LossAndGrad(og.getOutputs().get(loss.name()).getDouble(0),
          og.getGradients().get("h").dup());
      if (first == null) {
        first = r;
      } else {
        assertThat(r.loss()).as("%s run %d", kind, run).isEqualTo(first.loss());
        ExactArrays.assertBitIdentical(r.grad(), first.grad(), kind + " run " + run);
      }
    }
    assertThat(cache.unsupported()).isNull();
    cache.close();
    return first;
  }

  private static INDArray randn(long seed, long... shape) {
    Nd4j.getRandom().setSeed(seed);
    return Nd4j.randn(DataType.FLOAT, shape);
  }

  private static long[] labels(long seed, boolean ignoreSome) {
    SplittableRandom rnd = new SplittableRandom(seed);
    long[] ids = new long[ROWS];
    for (int i = 0; i < ROWS; i++) {
      ids[i] = ignoreSome && i % 4 == 2 ? VectorKernelOp.IGNORE_INDEX : rnd.nextInt(VOCAB);
    }
    ids[0] = 0;
    ids[1] = VOCAB - 1;
    return ids;
  }

  private static void assertClose(LossAndGrad fused, LossAndGrad plain, String what) {
    assertThat(Math.abs(fused.loss() - plain.loss())).as("%s: loss %s vs %s", what, fused.loss(), plain.loss())
        .isLessThanOrEqualTo(TOLERANCE * Math.abs(plain.loss()));
    double scale = plain.grad().amaxNumber().doubleValue();
    assertThat(fused.grad().sub(plain.grad()).amaxNumber().doubleValue()).as("%s: dL/dh", what)
        .isLessThanOrEqualTo(TOLERANCE * scale);
  }

  @Test
  void lossAndHiddenGradientEqualTheLogitsPath() {
    INDArray w = randn(1, VOCAB, E);
    INDArray h = randn(2, ROWS, E).muli(2);
    for (boolean ignoreSome : new boolean[] {false, true}) {
      long[] ids = labels(3, ignoreSome);
      for (Head kind : Head.values()) {
        try (Engine.Scope scope = Engine.use(Engine.Mode.OPTIMIZED)) {
          LossAndGrad fused = run(kind, w, h, ids, true);
          LossAndGrad plain = run(kind, w, h, ids, false);
          assertClose(fused, plain, kind + (ignoreSome ? " with ignored rows" : ""));
          for (int i = 0; i < ROWS; i++) {
            if (ids[i] < 0) {
              assertThat(fused.grad().getRow(i).amaxNumber().doubleValue()).as("%s: ignored row %d", kind, i).isZero();
            }
          }
        }
      }
    }
  }

  @Test
  void twoThreadsGiveTheLossAndGradientOfOne() {
    INDArray w = randn(4, VOCAB, E);
    INDArray h = randn(5, ROWS, E);
    long[] ids = labels(6, true);
    try (Engine.Scope scope = Engine.use(Engine.Mode.OPTIMIZED)) {
      for (Head kind : Head.values()) {
        Threads.configure(1);
        LossAndGrad one = run(kind, w, h, ids, true);
        Threads.configure(2);
        LossAndGrad two = run(kind, w, h, ids, true);
        assertClose(two, one, kind + ", 2 threads");
      }
    }
  }

  @Test
  void noCountedRowGivesZeroLossAndGradient() {
    long[] none = new long[ROWS];
    java.util.Arrays.fill(none, VectorKernelOp.IGNORE_INDEX);
    try (Engine.Scope scope = Engine.use(Engine.Mode.OPTIMIZED)) {
      for (Head kind : Head.values()) {
        LossAndGrad r = run(kind, randn(7, VOCAB, E), randn(8, ROWS, E), none, true);
        assertThat(r.loss()).as("%s", kind).isZero();
        assertThat(r.grad().amaxNumber().doubleValue()).as("%s", kind).isZero();
      }
    }
  }

  @Test
  void aBadLabelIsAnErrorNamingItAndTheVocabulary() {
    try (Engine.Scope scope = Engine.use(Engine.Mode.OPTIMIZED)) {
      for (long bad : new long[] {VOCAB, -1, 1_000_000}) {
        long[] ids = labels(9, false);
        ids[6] = bad;
        for (Head kind : Head.values()) {
          assertThatThrownBy(() -> run(kind, randn(10, VOCAB, E), randn(11, ROWS, E), ids, true))
              .hasStackTraceContaining("row 6 has label " + bad + "; accepted: 0.." + (VOCAB - 1)
                  + " (vocabulary size " + VOCAB + ") or -100");
        }
      }
    }
  }

  /** A tiny Llama with tied embeddings, its table held as {@code kind} says. */
  private static PeftModel tiedLlama(Head kind) {
    LlamaModel.Config c = new LlamaModel.Config("llama", 48, 64, 192, 2, 4, 2, 16, 1e-6,
        RopeScaling.unscaled(10000.0), "silu", true, false, false, false, 0);
    LlamaModel base = LlamaModel.random(c, 3);
    if (kind != Head.F32) {
      String name = "model.embed_tokens.weight";
      INDArray table = base.weights().remove(name);
      base.quantizedWeights().put(name, QuantizedWeight.quantize(table,
          kind == Head.BF16 ? QuantFormat.BF16 : QuantFormat.NF4, 64, false));
    }
    return new PeftModel(base, BlockRecomputeTest.REGISTRY);
  }

  /** The token objective on the logits only, as for a model without a frozen head. */
  private static Objective throughLogits() {
    Objective o = Objective.tokenCrossEntropy();
    return new Objective() {
      @Override
      public SDVariable loss(SameDiff sd, SDVariable output) {
        return o.loss(sd, output);
      }

      @Override
      public List<String> labelInputs() {
        return o.labelInputs();
      }
    };
  }

  private static List<Double> losses(Head kind, Objective objective, boolean checkpointing) {
    PeftModel pm = tiedLlama(kind);
    pm.addAdapter("default", new AdapterSpec(LoraConfig.of(4, 8), Targets.allLinear()), 5);
    assertThat(pm.build(true, null).head()).as("%s: the frozen head", kind).isNotNull();
    List<Double> losses = new ArrayList<>();
    try (Trainer.Session s = new Trainer(TrainConfig.of(6, 1e-2, 5)).checkpointing(checkpointing)
        .start(pm, objective)) {
      for (long step = 1; step <= 6; step++) {
        Map<String, INDArray> batch = new java.util.LinkedHashMap<>(BlockRecomputeTest.llamaBatch(step));
        batch.put(Objective.LABEL_IDS, batch.remove("labels").argMax(1));
        batch.get(Objective.LABEL_IDS).putScalar(3, VectorKernelOp.IGNORE_INDEX);
        losses.add(s.step(step, (st, micro) -> batch));
      }
      assertThat(s.replayUnsupported()).isNull();
      assertThat(s.recomputedBlocks() > 0).isEqualTo(checkpointing);
    }
    return losses;
  }

  /** GPT-2's head, always the token table: fused when the table is frozen, as Llama's tied head. */
  @Test
  void gpt2LoraTrainsThroughItsFrozenTableAsThroughTheLogits() {
    LmHeadCrossEntropy.setChunkRows(20);
    try (Engine.Scope scope = Engine.use(Engine.Mode.OPTIMIZED)) {
      List<Double> plain = gpt2Losses(throughLogits());
      List<Double> fused = gpt2Losses(Objective.tokenCrossEntropy());
      for (int i = 0; i < plain.size(); i++) {
        assertThat(Math.abs(fused.get(i) - plain.get(i))).as("step %d: %s vs %s", i + 1, fused.get(i),
            plain.get(i)).isLessThanOrEqualTo(TOLERANCE * plain.get(i));
      }
    }
  }

  private static List<Double> gpt2Losses(Objective objective) {
    Gpt2Model.Config c = new Gpt2Model.Config(48, 32, 32, 2, 4, 128, 1e-5, "gelu_new", true, false);
    PeftModel pm = new PeftModel(new Gpt2Model(c, Gpt2Model.expectedWeights(c).randomInit(0.02, 3)),
        BlockRecomputeTest.REGISTRY);
    pm.addAdapter("default", new AdapterSpec(LoraConfig.of(4, 8), Targets.allLinear()), 5);
    assertThat(pm.build(true, null).head()).as("the frozen table as the head").isNotNull();
    List<Double> losses = new ArrayList<>();
    try (Trainer.Session s = new Trainer(TrainConfig.of(4, 1e-2, 5)).start(pm, objective)) {
      for (long step = 1; step <= 4; step++) {
        Map<String, INDArray> batch = new java.util.LinkedHashMap<>(BlockRecomputeTest.llamaBatch(step));
        batch.put(Objective.LABEL_IDS, batch.remove("labels").argMax(1));
        losses.add(s.step(step, (st, micro) -> batch));
      }
    }
    return losses;
  }

  /** LoRA training through the fused head: the same losses as through the logits (1e-5 relative). */
  @Test
  void loraTrainsAsThroughTheLogits() {
    LmHeadCrossEntropy.setChunkRows(20); // 48 tokens: chunks of 20, 20 and 8
    try (Engine.Scope scope = Engine.use(Engine.Mode.OPTIMIZED)) {
      for (Head kind : new Head[] {Head.BF16, Head.F32}) {
        for (boolean checkpointing : new boolean[] {false, true}) {
          List<Double> plain = losses(kind, throughLogits(), checkpointing);
          List<Double> fused = losses(kind, Objective.tokenCrossEntropy(), checkpointing);
          for (int i = 0; i < plain.size(); i++) {
            assertThat(Math.abs(fused.get(i) - plain.get(i))).as("%s step %d, checkpointing %s: %s vs %s", kind,
                i + 1, checkpointing, fused.get(i), plain.get(i)).isLessThanOrEqualTo(TOLERANCE * plain.get(i));
          }
        }
      }
    }
  }
}
