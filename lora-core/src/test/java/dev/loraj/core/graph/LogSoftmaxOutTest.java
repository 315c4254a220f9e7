package dev.loraj.core.graph;

import dev.loraj.core.testing.ExactArrays;
import static org.assertj.core.api.Assertions.assertThat;

import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

class LogSoftmaxOutTest {

  /** ND4J's elementary log-softmax, differentiated by SameDiff: the reference. */
  private static SDVariable elementary(SameDiff sd, SDVariable x) {
    SDVariable shifted = x.sub(x.max(true, 1));
    return shifted.sub(sd.math().log(sd.math().exp(shifted).sum(true, 1)));
  }

  /**
   * Cross-entropy -mean(sum(y * log_softmax(W x))) with soft labels: same loss, same gradient
   * for W as the elementary form; the gradient graph runs one exp and no max/subtract backward.
   */
  @Test
  void crossEntropyLossAndGradientMatchTheElementaryForm() {
    Nd4j.getRandom().setSeed(11);
    INDArray wv = Nd4j.randn(DataType.FLOAT, 5, 7).muli(3); // logits up to ~20: the max shift matters
    INDArray xv = Nd4j.randn(DataType.FLOAT, 6, 5);
    INDArray yv = Nd4j.rand(DataType.FLOAT, 6, 7);
    yv.diviColumnVector(yv.sum(true, 1)); // rows are distributions
    double[] loss = new double[2];
    INDArray[] grad = new INDArray[2];
    SameDiff[] graphs = new SameDiff[2];
    for (int k = 0; k < 2; k++) {
      SameDiff sd = Graphs.newSameDiff();
      SDVariable w = sd.var("w", wv.dup());
      SDVariable logits = sd.constant("x", xv.dup()).mmul(w);
      SDVariable logp = k == 0 ? elementary(sd, logits) : LogSoftmaxOut.apply(sd, logits);
      SDVariable l = sd.constant("y", yv.dup()).mul(logp).sum(1).mean().neg();
      l.markAsLoss();
      var og = Graphs.quietly(() -> sd.calculateGradientsAndOutputs(Map.of(), List.of(l.name()), List.of("w")));
      loss[k] = og.getOutputs().get(l.name()).getDouble(0);
      grad[k] = og.getGradients().get("w");
      graphs[k] = sd;
    }
    assertThat(loss[1]).isCloseTo(loss[0], org.assertj.core.data.Offset.offset(1e-5));
    assertThat(grad[1].equalsWithEps(grad[0], 1e-5)).as("dW %s vs %s", grad[1], grad[0]).isTrue();
    assertThat(count(graphs[0], "exp")).isEqualTo(2); // forward + exp's derivative
    // one exp, forward only: libnd4j's, or the Vector API kernel when the JVM has the module
    assertThat(count(graphs[1], "exp") + count(graphs[1], VectorKernelOp.OP_NAME)).isEqualTo(1);
    assertThat(count(graphs[1], "reduce_max_bp")).isZero();
    assertThat(count(graphs[1], "subtract_bp")).isZero();
  }

  /** The cut copy has x's values; nothing before it is differentiated through it. */
  @Test
  void aCutCopyCarriesValuesButNoGradient() {
    SameDiff sd = Graphs.newSameDiff();
    INDArray xv = Nd4j.createFromArray(new float[][] {{1.5f, -2f}, {0.25f, 3f}});
    SDVariable x = sd.var("x", xv.dup());
    SDVariable cut = GradientCut.of(sd, x);
    // loss = sum(x * 2) + sum(cut * 5): only the first term has a gradient for x
    SDVariable l = x.mul(2.0).sum().add(cut.mul(5.0).sum());
    l.markAsLoss();
    Map<String, INDArray> g = Graphs.quietly(() -> sd.calculateGradients(Map.of(), List.of("x")));
    ExactArrays.assertBitIdentical(sd.outputSingle(Map.of(), cut.name()), xv, "forward of the gradient cut");
    assertThat(g.get("x").equalsWithEps(Nd4j.valueArrayOf(new long[] {2, 2}, 2f), 1e-6)).isTrue();
  }

  private static long count(SameDiff sd, String op) {
    return Arrays.stream(sd.getFunction("grad").ops()).filter(o -> o.opName().equals(op)).count();
  }
}
