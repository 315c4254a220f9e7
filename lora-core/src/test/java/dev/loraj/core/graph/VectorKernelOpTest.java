package dev.loraj.core.graph;

import dev.loraj.core.testing.ExactArrays;
import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Map;
import java.util.function.BiFunction;
import org.junit.jupiter.api.Test;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.autodiff.samediff.api.OutAndGrad;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.ops.transforms.Transforms;

/**
 * The Vector API kernels against libnd4j's op chains (the forms they replace): values and
 * gradients of GELU, SiLU and softmax, through SameDiff and through the replay executor, and
 * at inputs where naive formulas overflow.
 */
class VectorKernelOpTest {

  @Test
  void theTestJvmHasTheVectorModule() {
    // surefire runs with --add-modules jdk.incubator.vector (pom.xml): the kernels are under test
    assertThat(VectorKernelOp.available()).isTrue();
  }

  /** loss = sum(f(x w) * c) for kernel f and libnd4j's chain g: same loss and dW. */
  private static void sameAsChain(String what, INDArray xs, long cols,
      BiFunction<SameDiff, SDVariable, SDVariable> kernel,
      BiFunction<SameDiff, SDVariable, SDVariable> chain, double eps) {
    double[] loss = new double[2];
    INDArray[] out = new INDArray[2];
    INDArray[] grad = new INDArray[2];
    for (int k = 0; k < 2; k++) {
      Nd4j.getRandom().setSeed(5);
      SameDiff sd = Graphs.newSameDiff();
      SDVariable x = sd.placeHolder("x", DataType.FLOAT, -1, xs.size(1));
      SDVariable w = sd.var("w", Nd4j.randn(DataType.FLOAT, xs.size(1), cols).muli(0.7));
      SDVariable c = sd.constant("c", Nd4j.randn(DataType.FLOAT, 1, cols));
      SDVariable y = (k == 0 ? kernel : chain).apply(sd, x.mmul(w));
      SDVariable l = y.mul(c).sum();
      l.markAsLoss();
      Graphs.createGradFunction(sd, List.of());
      ReplayCache cache = new ReplayCache();
      for (int run = 0; run < 3; run++) { // plain, recorded, replayed: all the same
        OutAndGrad og = Graphs.gradientsAndOutputs(sd, Map.of("x", xs), List.of(l.name(), y.name()),
            List.of("w"), cache);
        double lv = og.getOutputs().get(l.name()).getDouble(0);
        if (run > 0) {
          assertThat(lv).as("%s run %d", what, run).isEqualTo(loss[k]);
          ExactArrays.assertBitIdentical(og.getGradients().get("w"), grad[k], String.format("%s run %d", what, run));
        }
        loss[k] = lv;
        out[k] = og.getOutputs().get(y.name()).dup();
        grad[k] = og.getGradients().get("w").dup();
      }
      assertThat(cache.unsupported()).isNull();
      cache.close();
    }
    assertThat(loss[0]).as(what).isCloseTo(loss[1], org.assertj.core.data.Offset.offset(eps * Math.max(1, Math.abs(loss[1]))));
    assertThat(maxAbs(out[0].sub(out[1])) / Math.max(1, maxAbs(out[1]))).as("%s: outputs", what).isLessThan(eps);
    assertThat(maxAbs(grad[0].sub(grad[1])) / Math.max(1, maxAbs(grad[1]))).as("%s: dW", what).isLessThan(eps);
  }

  private static double maxAbs(INDArray a) {
    return a.amaxNumber().doubleValue();
  }

  private static INDArray inputs() {
    Nd4j.getRandom().setSeed(11);
    return Nd4j.randn(DataType.FLOAT, 37, 19).muli(2); // odd sizes: vector tails are exercised
  }

  @Test
  void geluMatchesTheErfChain() {
    sameAsChain("gelu", inputs(), 45, VectorKernelOp::gelu,
        (sd, h) -> h.mul(0.5).mul(sd.math().erf(h.div(Math.sqrt(2))).add(1.0)), 2e-5);
  }

  @Test
  void siluMatchesTheSigmoidChain() {
    sameAsChain("silu", inputs(), 45, VectorKernelOp::silu, (sd, h) -> h.mul(sd.nn().sigmoid(h)), 2e-5);
  }

  @Test
  void softmaxMatchesLibnd4jsOnTheLastAxis() {
    sameAsChain("softmax", inputs(), 45, (sd, h) -> VectorKernelOp.softmaxLastAxis(sd, h, 2),
        (sd, h) -> sd.nn().softmax(h, 1), 2e-6);
  }

  @Test
  void crossEntropyRowsMatchLogSoftmaxTimesLabels() {
    Nd4j.getRandom().setSeed(3);
    INDArray labels = Nd4j.rand(DataType.FLOAT, 37, 45); // soft labels, rows not normalised
    labels.getRow(4).assign(0); // a row without mass
    sameAsChain("cross-entropy rows", inputs(), 45,
        (sd, h) -> VectorKernelOp.crossEntropyRows(sd, h, sd.constant(labels)),
        (sd, h) -> LogSoftmaxOut.apply(sd, h).mul(sd.constant(labels)).sum(true, 1), 2e-5);
  }

  /** Trainable row weights (gain, bias) get column sums as gradients: the same as mul/add's own. */
  @Test
  void trainableRowWeightGradientsMatchBroadcastBackward() {
    INDArray[][] grads = new INDArray[2][];
    for (int k = 0; k < 2; k++) {
      Nd4j.getRandom().setSeed(19);
      SameDiff sd = Graphs.newSameDiff();
      SDVariable x = sd.var("x", Nd4j.randn(DataType.FLOAT, 37, 45));
      SDVariable g = sd.var("g", Nd4j.randn(DataType.FLOAT, 45));
      SDVariable b = sd.var("b", Nd4j.randn(DataType.FLOAT, 45));
      SDVariable y = k == 0 ? FrozenAdd.byWeight(sd, FrozenMultiply.byWeight(sd, x, g), b) : x.mul(g).add(b);
      SDVariable loss = y.mul(sd.constant(Nd4j.randn(DataType.FLOAT, 37, 45))).sum();
      loss.markAsLoss();
      Graphs.createGradFunction(sd, List.of());
      OutAndGrad og = Graphs.gradientsAndOutputs(sd, Map.of(), List.of(loss.name()), List.of("x", "g", "b"));
      grads[k] = new INDArray[] {og.getGradients().get("x").dup(), og.getGradients().get("g").dup(),
          og.getGradients().get("b").dup()};
    }
    for (int i = 0; i < 3; i++) {
      assertThat(grads[0][i].shape()).isEqualTo(grads[1][i].shape());
      assertThat(grads[0][i].equalsWithEps(grads[1][i], 1e-4)).as("grad %d", i).isTrue();
    }
  }

  @Test
  void kernelsStayFiniteAtExtremeInputs() {
    INDArray x = Nd4j.createFromArray(new float[] {-1e4f, -300f, -88.5f, -20f, -1e-3f, 0f, 1e-3f,
        20f, 88.5f, 300f, 1e4f, -3.4e38f, 3.4e38f, 5f, -5f, 0.5f, -0.5f}).reshape(1, 17);
    INDArray dy = Nd4j.ones(DataType.FLOAT, 1, 17);
    for (VectorKernelOp.Kernel k : VectorKernelOp.Kernel.values()) {
      INDArray out = x.ulike();
      VectorKernelOp op = new VectorKernelOp();
      op.addIArgument(k.ordinal());
      INDArray in0 = k == VectorKernelOp.Kernel.SOFTMAX_BP ? Transforms.softmax(x, true) : x;
      if (k == VectorKernelOp.Kernel.XENT_IDS || k == VectorKernelOp.Kernel.XENT_IDS_BP) {
        INDArray rows = Nd4j.create(DataType.FLOAT, 1, 3);
        VectorKernelOp fwd = new VectorKernelOp();
        fwd.addIArgument(VectorKernelOp.Kernel.XENT_IDS.ordinal());
        INDArray ids = Nd4j.createFromArray(5L); // at x = 0
        fwd.compute(List.of(x, ids), rows);
        out = k == VectorKernelOp.Kernel.XENT_IDS ? rows : x.ulike();
        if (k == VectorKernelOp.Kernel.XENT_IDS_BP) {
          op.compute(List.of(x, ids, rows, Nd4j.ones(DataType.FLOAT, 1, 3)), out);
        }
        assertThat(out.isNaN().any() || out.isInfinite().any()).as("%s: %s", k, out).isFalse();
        continue;
      }
      if (k == VectorKernelOp.Kernel.XENT || k == VectorKernelOp.Kernel.XENT_BP) {
        INDArray rows = Nd4j.create(DataType.FLOAT, 1, 3);
        VectorKernelOp fwd = new VectorKernelOp();
        fwd.addIArgument(VectorKernelOp.Kernel.XENT.ordinal());
        INDArray oneHot = Nd4j.zeros(DataType.FLOAT, 1, 17).putScalar(0, 5, 1f); // at x = 0
        fwd.compute(List.of(x, oneHot), rows);
        out = k == VectorKernelOp.Kernel.XENT ? rows : x.ulike();
        if (k == VectorKernelOp.Kernel.XENT_BP) {
          op.compute(List.of(x, oneHot, rows, Nd4j.ones(DataType.FLOAT, 1, 3)), out);
        }
        assertThat(out.isNaN().any() || out.isInfinite().any()).as("%s: %s", k, out).isFalse();
        continue;
      }
      if (k == VectorKernelOp.Kernel.NORM || k == VectorKernelOp.Kernel.NORM_BP) {
        // without the two entries at the float32 limits, whose squares overflow (torch: NaN too)
        INDArray finite = x.dup().putScalar(0, 11, 0f).putScalar(0, 12, 0f);
        for (long centred : new long[] {0, 1}) {
          VectorKernelOp norm = new VectorKernelOp();
          norm.addIArgument(k.ordinal(), centred, Float.floatToRawIntBits(1e-5f));
          norm.compute(k == VectorKernelOp.Kernel.NORM ? List.of(finite) : List.of(finite, dy), out);
          assertThat(out.isNaN().any() || out.isInfinite().any()).as("%s: %s", k, out).isFalse();
        }
        continue;
      }
      if (k == VectorKernelOp.Kernel.GELU_BP) {
        INDArray y = x.ulike();
        VectorKernelOp fwd = new VectorKernelOp();
        fwd.addIArgument(VectorKernelOp.Kernel.GELU.ordinal());
        fwd.compute(List.of(x), y);
        op.compute(List.of(x, y, dy), out);
      } else {
        op.compute(List.of(in0, dy), out);
      }
      if (k != VectorKernelOp.Kernel.EXP) { // exp(1e4) is +inf, as it should be
        assertThat(out.isNaN().any() || out.isInfinite().any()).as("%s: %s", k, out).isFalse();
      }
    }
    // GELU: x for large x, 0 for very negative x; its derivative 1 and 0 there
    INDArray g = x.ulike();
    VectorKernelOp gelu = new VectorKernelOp();
    gelu.addIArgument(VectorKernelOp.Kernel.GELU.ordinal());
    gelu.compute(List.of(x), g);
    assertThat(g.getFloat(0, 9)).isEqualTo(300f);
    assertThat(g.getFloat(0, 0)).isEqualTo(-0f);
    assertThat(g.getFloat(0, 5)).isEqualTo(0f);
    // a row whose entries are all the float32 minimum (a fully masked attention row): uniform
    INDArray masked = Nd4j.valueArrayOf(new long[] {2, 8}, -3.4028235e38f, DataType.FLOAT);
    INDArray p = masked.ulike();
    VectorKernelOp softmax = new VectorKernelOp();
    softmax.addIArgument(VectorKernelOp.Kernel.SOFTMAX.ordinal());
    softmax.compute(List.of(masked), p);
    assertThat(p.sub(0.125).amaxNumber().doubleValue()).isLessThan(1e-7);
  }
}
