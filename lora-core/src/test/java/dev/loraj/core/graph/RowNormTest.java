package dev.loraj.core.graph;

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

class RowNormTest {

  /** The elementary forms, differentiated by SameDiff: the reference. */
  private static SDVariable elementary(SameDiff sd, SDVariable x, boolean centred, double eps) {
    SDVariable c = centred ? x.sub(sd.mean(x, true, 1)) : x;
    SDVariable ms = sd.mean(sd.math().square(c), true, 1);
    return c.mul(sd.math().rsqrt(ms.add(eps)));
  }

  /**
   * tanh(norm(x W)) * C summed, for LayerNorm and RMSNorm: same output and same gradient for W as
   * the elementary form; no divide/multiply/mean backward op in the gradient graph.
   */
  @Test
  void outputAndGradientMatchTheElementaryForms() {
    outputAndGradientMatch(9);
  }

  /** Rows wider than a vector, with a tail: the fused kernel's vector loops and its scalar rest. */
  @Test
  void wideRowsMatchTheElementaryForms() {
    outputAndGradientMatch(39); // two 16-lane vectors and 7 more
  }

  private static void outputAndGradientMatch(int width) {
    Nd4j.getRandom().setSeed(17);
    INDArray wv = Nd4j.randn(DataType.FLOAT, 6, width);
    INDArray xv = Nd4j.randn(DataType.FLOAT, 5, 6).addi(0.7); // a row mean away from 0
    INDArray cv = Nd4j.randn(DataType.FLOAT, 5, width);
    for (boolean centred : new boolean[] {true, false}) {
      double eps = centred ? 1e-12 : 1e-6;
      INDArray[] out = new INDArray[2];
      INDArray[] grad = new INDArray[2];
      SameDiff[] graphs = new SameDiff[2];
      for (int k = 0; k < 2; k++) {
        SameDiff sd = Graphs.newSameDiff();
        SDVariable h = sd.constant("x", xv.dup()).mmul(sd.var("w", wv.dup()));
        SDVariable n = k == 0 ? elementary(sd, h, centred, eps)
            : centred ? RowNorm.layerNorm(sd, h, eps, true) : RowNorm.rms(sd, h, eps, true);
        SDVariable y = sd.math().tanh(n);
        FrozenMultiply.byWeight(sd, y, sd.constant(cv.dup())).sum().markAsLoss(); // no multiply_bp
        grad[k] = Graphs.quietly(() -> sd.calculateGradients(Map.of(), List.of("w"))).get("w");
        out[k] = sd.outputSingle(Map.of(), n.name());
        graphs[k] = sd;
      }
      assertThat(out[1].equalsWithEps(out[0], 1e-5)).as("forward, centred=%s", centred).isTrue();
      assertThat(grad[1].equalsWithEps(grad[0], 1e-4)).as("dW, centred=%s: %s vs %s", centred, grad[1], grad[0]).isTrue();
      for (String bp : List.of("divide_bp", "multiply_bp", "reduce_mean_bp", "_powderivative")) {
        assertThat(count(graphs[1], bp)).as("%s, centred=%s", bp, centred).isZero();
      }
      if (VectorKernelOp.available()) { // one op each way: no divide, square or mean left
        assertThat(count(graphs[1], VectorKernelOp.OP_NAME)).as("kernels in the gradient graph").isEqualTo(2);
        assertThat(Arrays.stream(graphs[1].ops()).filter(o -> o.opName().equals("divide")).count())
            .as("forward chain").isZero();
      }
    }
  }

  private static long count(SameDiff sd, String op) {
    return Arrays.stream(sd.getFunction("grad").ops()).filter(o -> o.opName().equals(op)).count();
  }
}
