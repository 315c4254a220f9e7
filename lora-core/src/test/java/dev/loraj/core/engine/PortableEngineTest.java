package dev.loraj.core.engine;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.loraj.core.adapter.AdapterRegistry;
import dev.loraj.core.adapter.AdapterSpec;
import dev.loraj.core.golden.PeftGolden;
import dev.loraj.core.graph.Graphs;
import dev.loraj.core.graph.JavaComputedOp;
import dev.loraj.core.lora.LoraConfig;
import dev.loraj.core.model.HfModels;
import dev.loraj.core.model.PeftModel;
import dev.loraj.core.model.Targets;
import dev.loraj.core.model.bert.BertConfig;
import dev.loraj.core.model.bert.BertModel;
import dev.loraj.core.model.bert.TokenBatch;
import dev.loraj.core.quant.DequantOps;
import dev.loraj.core.quant.QuantFormat;
import dev.loraj.core.quant.QuantizedBase;
import dev.loraj.core.quant.QuantizedLinearOp;
import dev.loraj.core.quant.QuantizedWeight;
import dev.loraj.core.train.Objective;
import dev.loraj.core.train.TrainConfig;
import dev.loraj.core.train.TrainResult;
import dev.loraj.core.train.Trainer;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.BiFunction;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;
import org.nd4j.autodiff.functions.DifferentialFunction;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.autodiff.samediff.api.OutAndGrad;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * The portable engine (ND4J ops only: what runs on a device backend) against the optimized one on
 * the CPU: the same model trained and run in both must agree within float rounding. Tolerances:
 * losses within 1e-4 relative, adapter weights and outputs within 1e-4 absolute after 5 AdamW
 * steps at lr 1e-3 (the engines differ in summation order: chunked gemm against one matmul,
 * OpenBLAS per head against libnd4j's batched matmul, Vector API kernels against libnd4j's
 * exp/erf). Dequantization by graph ops must be bit-identical to the Java kernels'.
 */
class PortableEngineTest {
  static final AdapterRegistry REGISTRY = AdapterRegistry.discover();
  static final double TOLERANCE = 1e-4;

  /** What a run leaves to compare: losses, adapter weights, outputs on a fixed input. */
  record Run(List<Double> losses, Map<String, INDArray> weights, INDArray output) {}

  private static Run train(Engine.Mode mode, Supplier<PeftModel> model, Objective objective,
      BiFunction<Long, Integer, Map<String, INDArray>> batches, Map<String, INDArray> probe) {
    try (Engine.Scope scope = Engine.use(mode)) {
      PeftModel pm = model.get();
      Trainer trainer = new Trainer(TrainConfig.of(5, 1e-3, 5));
      assertOnlyNd4jOps(mode, trainer, pm, objective);
      TrainResult r = trainer.train(pm, objective, batches::apply);
      Map<String, INDArray> w = new LinkedHashMap<>();
      pm.adapter("default").sites().forEach((site, a) ->
          a.parameters().forEach((k, v) -> w.put(site + "." + k, v.dup())));
      return new Run(r.losses(), w, pm.output(probe).dup());
    }
  }

  /** In the portable engine the training graph and its gradient graph hold ND4J's ops only. */
  private static void assertOnlyNd4jOps(Engine.Mode mode, Trainer trainer, PeftModel pm, Objective objective) {
    if (mode != Engine.Mode.PORTABLE) {
      return;
    }
    try (Trainer.Session s = trainer.start(pm, objective)) {
      SameDiff sd = s.graph();
      List<DifferentialFunction> ops = new ArrayList<>(List.of(sd.ops()));
      ops.addAll(List.of(sd.getFunction("grad").ops()));
      assertThat(ops).isNotEmpty();
      for (DifferentialFunction op : ops) {
        assertThat(op).as("op %s", op.getOwnName()).isNotInstanceOf(JavaComputedOp.class);
        assertThat(op.opName()).as("op %s", op.getOwnName()).doesNotStartWith("loraj_");
      }
    }
  }

  private static void sameResults(String what, Supplier<PeftModel> model, Objective objective,
      BiFunction<Long, Integer, Map<String, INDArray>> batches, Map<String, INDArray> probe) {
    Run optimized = train(Engine.Mode.OPTIMIZED, model, objective, batches, probe);
    Run portable = train(Engine.Mode.PORTABLE, model, objective, batches, probe);
    double lossDiff = 0;
    for (int i = 0; i < optimized.losses().size() && i < portable.losses().size(); i++) {
      lossDiff = Math.max(lossDiff, Math.abs(optimized.losses().get(i) - portable.losses().get(i)));
    }
    double weightDiff = 0;
    for (var e : optimized.weights().entrySet()) {
      if (portable.weights().containsKey(e.getKey())) {
        weightDiff = Math.max(weightDiff, maxAbsDiff(e.getValue(), portable.weights().get(e.getKey())));
      }
    }
    System.out.printf(java.util.Locale.ROOT, "portable vs optimized %-10s losses %.2e  weights %.2e  outputs %.2e%n",
        what, lossDiff, weightDiff, maxAbsDiff(optimized.output(), portable.output()));
    assertThat(portable.losses()).as("%s: losses", what).hasSameSizeAs(optimized.losses());
    for (int i = 0; i < optimized.losses().size(); i++) {
      double a = optimized.losses().get(i);
      double b = portable.losses().get(i);
      assertThat(Math.abs(a - b)).as("%s: loss %d, %s vs %s", what, i, a, b)
          .isLessThanOrEqualTo(TOLERANCE * Math.max(1, Math.abs(a)));
    }
    assertThat(portable.weights().keySet()).isNotEmpty().isEqualTo(optimized.weights().keySet());
    optimized.weights().forEach((k, v) -> assertThat(maxAbsDiff(v, portable.weights().get(k)))
        .as("%s: %s", what, k).isLessThanOrEqualTo(TOLERANCE));
    assertThat(maxAbsDiff(optimized.output(), portable.output())).as("%s: outputs", what)
        .isLessThanOrEqualTo(TOLERANCE);
  }

  static double maxAbsDiff(INDArray a, INDArray b) {
    assertThat(b.shape()).containsExactly(a.shape());
    return a.castTo(DataType.DOUBLE).sub(b.castTo(DataType.DOUBLE)).amaxNumber().doubleValue();
  }

  private static PeftModel llama(boolean quantized) {
    try {
      PeftModel pm = new PeftModel(HfModels.load(PeftGolden.root().resolve("llama-tiny")), REGISTRY);
      if (quantized) {
        QuantizedBase.quantizeNf4(pm, Targets.allLinear()); // QLoRA's NF4 + double quantization
      }
      pm.addAdapter("default", new AdapterSpec(LoraConfig.of(4, 8), Targets.allLinear()), 5);
      return pm;
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  /** Next-token batches of one fixed token stream over a 64-token vocabulary. */
  private static Map<String, INDArray> nextTokens(long step) {
    int seq = 7;
    long[][] ids = new long[2][seq];
    INDArray labels = Nd4j.zeros(DataType.FLOAT, 2L * seq, 64);
    for (int b = 0; b < 2; b++) {
      for (int t = 0; t < seq; t++) {
        ids[b][t] = (step * 5 + b * 11 + t * 3) % 64;
        labels.putScalar(b * seq + t, (step * 5 + b * 11 + (t + 1) * 3) % 64, 1f);
      }
    }
    Map<String, INDArray> m = new LinkedHashMap<>();
    m.put("input_ids", Nd4j.createFromArray(ids));
    m.put("labels", labels);
    return m;
  }

  @Test
  void llamaTrainingAndInferenceMatchTheOptimizedEngine() {
    sameResults("llama", () -> llama(false), Objective.classification(),
        (step, micro) -> nextTokens(step), Map.of("input_ids", nextTokens(9).get("input_ids")));
  }

  /** The causal-LM loss on label ids: the fused kernel against the portable engine's op chain. */
  @Test
  void llamaOnLabelIdsMatchesTheOptimizedEngine() {
    sameResults("llama ids", () -> llama(false), Objective.tokenCrossEntropy(), (step, micro) -> {
      Map<String, INDArray> m = nextTokens(step);
      m.put(Objective.LABEL_IDS, m.remove("labels").argMax(1));
      return m;
    }, Map.of("input_ids", nextTokens(9).get("input_ids")));
  }

  @Test
  void nf4QuantizedLlamaMatchesTheOptimizedEngine() {
    sameResults("llama nf4", () -> llama(true), Objective.classification(),
        (step, micro) -> nextTokens(step), Map.of("input_ids", nextTokens(9).get("input_ids")));
  }

  @Test
  void bertClassifierMatchesTheOptimizedEngine() {
    BertConfig c = new BertConfig(50, 32, 2, 4, 64, "gelu", 16, 2, 1e-12, 0.1, 0.1);
    Supplier<PeftModel> model = () -> {
      PeftModel pm = new PeftModel(BertModel.random(c, BertModel.Pooling.CLS, 3, 7), REGISTRY);
      pm.addAdapter("default", new AdapterSpec(LoraConfig.of(4, 8), Targets.of("query", "value")), 5);
      return pm;
    };
    BiFunction<Long, Integer, Map<String, INDArray>> batches = (step, micro) -> {
      int seq = 9;
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
      Map<String, INDArray> m = new LinkedHashMap<>(BertModel.inputs(new TokenBatch(ids, mask, types)));
      m.put("labels", labels);
      return m;
    };
    Map<String, INDArray> probe = new LinkedHashMap<>(batches.apply(9L, 0));
    probe.remove("labels");
    sameResults("bert", model, Objective.classification(), batches, probe);
  }

  /**
   * deq(W) from graph ops equals the Java dequantization bit for bit in every format, with and
   * without double quantization, for a partial last block and an odd element count.
   */
  @Test
  void graphDequantizationIsBitIdenticalToTheJavaKernels() {
    long[][] shapes = {{7, 9}, {33, 40}, {600, 40}};
    for (QuantFormat f : java.util.Arrays.stream(QuantFormat.values()).filter(QuantFormat::blockwise).toList()) {
      for (boolean dq : new boolean[] {false, true}) {
        for (long[] s : shapes) {
          QuantizedWeight q = QuantizedWeight.quantize(gaussian(s[0], s[1], s[0] + s[1]), f, 64, dq);
          SameDiff sd = Graphs.newSameDiff();
          SDVariable w = DequantOps.dequantize(sd, q);
          INDArray graph = sd.outputSingle(Map.of(), w.name());
          INDArray java = q.dequantize();
          assertThat(graph.equalsWithEps(java, 0)).as("%s dq=%s %dx%d", f, dq, s[0], s[1]).isTrue();
        }
      }
    }
  }

  /** The portable quantized linear: x deq(W)^T and its input gradient dy deq(W), against dense. */
  @Test
  void portableQuantizedLinearEqualsTheDenseProduct() {
    QuantizedWeight q = QuantizedWeight.quantize(gaussian(48, 40, 1), QuantFormat.NF4, 64, true);
    INDArray deq = q.dequantize();
    INDArray xv = gaussian(5, 40, 2);
    INDArray c = gaussian(5, 48, 3);
    try (Engine.Scope scope = Engine.use(Engine.Mode.PORTABLE)) {
      SameDiff sd = Graphs.newSameDiff();
      SDVariable x = sd.var("x", xv.dup());
      SDVariable y = QuantizedLinearOp.apply(sd, x, q); // the portable branch: DequantOps
      SDVariable loss = y.mul(sd.constant(c)).sum();
      sd.setLossVariables(loss.name());
      Graphs.createGradFunction(sd, List.of());
      OutAndGrad r = Graphs.gradientsAndOutputs(sd, Map.of(), List.of(y.name()), List.of("x"));
      INDArray expectedY = xv.mmul(deq.transpose());
      INDArray expectedDx = c.mmul(deq); // d sum(y * c) / dx = c deq(W)
      assertThat(maxAbsDiff(r.getOutputs().get(y.name()), expectedY)).as("forward").isLessThan(1e-5);
      assertThat(maxAbsDiff(r.getGradients().get("x"), expectedDx)).as("input gradient").isLessThan(1e-5);
      for (DifferentialFunction op : sd.ops()) {
        assertThat(op).isNotInstanceOf(JavaComputedOp.class);
      }
    }
  }

  /** A Java-computed op cannot enter a portable graph: its factory refuses. */
  @Test
  void javaComputedOpsAreRefusedInThePortableEngine() {
    try (Engine.Scope scope = Engine.use(Engine.Mode.PORTABLE)) {
      assertThat(Engine.portable()).isTrue();
      assertThat(Engine.current().vectorKernels()).isFalse();
      assertThat(Engine.current().replay()).isFalse();
      assertThat(Engine.current().describe()).contains("backend CPU", "engine portable");
      assertThatThrownBy(() -> JavaComputedOpProbe.add(Graphs.newSameDiff()))
          .isInstanceOf(IllegalStateException.class).hasMessageContaining("engine portable");
    }
    assertThat(Engine.current().describe()).contains("backend CPU");
  }

  /**
   * The portable dropout mask: entries 0 or 1/keep, about keep of them kept, a new mask per run,
   * the same masks again from the same ND4J seed, and the gradient of {@code x * mask} is the mask.
   */
  @Test
  void portableDropoutMaskIsSeededAndDifferentiable() {
    try (Engine.Scope scope = Engine.use(Engine.Mode.PORTABLE)) {
      double keep = 0.75;
      SameDiff sd = Graphs.newSameDiff();
      SDVariable x = sd.var("x", Nd4j.ones(DataType.FLOAT, 50, 40));
      SDVariable y = Graphs.dropout(sd, x, 1 - keep);
      sd.setLossVariables(y.sum().name());
      Graphs.createGradFunction(sd, List.of());
      List<INDArray> masks = new ArrayList<>();
      for (long seed : new long[] {3, 3, 4}) {
        Nd4j.getRandom().setSeed(seed);
        List<INDArray> runs = new ArrayList<>();
        for (int run = 0; run < 2; run++) {
          OutAndGrad r = Graphs.gradientsAndOutputs(sd, Map.of(), List.of(y.name()), List.of("x"));
          INDArray mask = r.getOutputs().get(y.name()).dup();
          assertThat(r.getGradients().get("x").equalsWithEps(mask, 0)).as("gradient = mask").isTrue();
          runs.add(mask);
        }
        assertThat(runs.get(0).equalsWithEps(runs.get(1), 0)).as("a new mask per run").isFalse();
        masks.add(runs.get(0));
      }
      assertThat(masks.get(0).equalsWithEps(masks.get(1), 0)).as("same seed, same mask").isTrue();
      assertThat(masks.get(0).equalsWithEps(masks.get(2), 0)).as("another seed").isFalse();
      INDArray m = masks.get(0);
      double kept = m.neq(0).castTo(DataType.DOUBLE).meanNumber().doubleValue();
      assertThat(kept).as("kept fraction of 2000").isBetween(keep - 0.04, keep + 0.04);
      INDArray values = m.dup().reshape(-1);
      for (int i = 0; i < values.length(); i++) {
        float v = values.getFloat(i);
        assertThat(v == 0f || Math.abs(v - 1 / keep) < 1e-6).as("entry %d = %s", i, v).isTrue();
      }
    }
  }

  /** A minimal Java-computed op: only its factory's check matters here. */
  static final class JavaComputedOpProbe extends JavaComputedOp {
    JavaComputedOpProbe() {}

    static void add(SameDiff sd) {
      register("loraj_probe", JavaComputedOpProbe::new);
    }

    @Override
    public String opName() {
      return "loraj_probe";
    }

    @Override
    public List<org.nd4j.linalg.api.shape.LongShapeDescriptor> calculateOutputShape(
        org.nd4j.linalg.api.ops.OpContext oc) {
      throw new UnsupportedOperationException("never run");
    }

    @Override
    public List<SDVariable> doDiff(List<SDVariable> gradients) {
      throw new UnsupportedOperationException("never differentiated");
    }
  }

  static INDArray gaussian(long rows, long cols, long seed) {
    Random rnd = new Random(seed);
    float[] v = new float[Math.toIntExact(rows * cols)];
    for (int i = 0; i < v.length; i++) {
      v[i] = (float) (rnd.nextGaussian() * 0.1);
    }
    return Nd4j.create(v, new long[] {rows, cols}, DataType.FLOAT);
  }
}
