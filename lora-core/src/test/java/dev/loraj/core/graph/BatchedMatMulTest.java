package dev.loraj.core.graph;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.autodiff.samediff.api.OutAndGrad;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/** {@link BatchedMatMul} against libnd4j's batched matmul: values and both gradients, every transpose case. */
class BatchedMatMulTest {

  @Test
  void productsAndGradientsMatchLibnd4jsMatmul() {
    for (boolean ta : new boolean[] {false, true}) {
      for (boolean tb : new boolean[] {false, true}) {
        INDArray[] out = new INDArray[2];
        INDArray[][] grads = new INDArray[2][];
        for (int k = 0; k < 2; k++) {
          Nd4j.getRandom().setSeed(13);
          SameDiff sd = Graphs.newSameDiff();
          // [2, 3, m, kk] x [2, 3, kk, n] with m = 5, kk = 7, n = 4, stored transposed where asked
          SDVariable a = sd.var("a", Nd4j.randn(DataType.FLOAT, ta ? new long[] {2, 3, 7, 5} : new long[] {2, 3, 5, 7}));
          SDVariable b = sd.var("b", Nd4j.randn(DataType.FLOAT, tb ? new long[] {2, 3, 4, 7} : new long[] {2, 3, 7, 4}));
          SDVariable c = k == 0 ? BatchedMatMul.of(sd, a, b, ta, tb) : sd.mmul(a, b, ta, tb, false);
          SDVariable w = sd.constant(Nd4j.randn(DataType.FLOAT, 2, 3, 5, 4));
          SDVariable loss = c.mul(w).sum();
          loss.markAsLoss();
          Graphs.createGradFunction(sd, List.of());
          OutAndGrad og = Graphs.gradientsAndOutputs(sd, Map.of(), List.of(c.name()), List.of("a", "b"));
          out[k] = og.getOutputs().get(c.name()).dup();
          grads[k] = new INDArray[] {og.getGradients().get("a").dup(), og.getGradients().get("b").dup()};
        }
        String what = "ta=" + ta + " tb=" + tb;
        assertThat(out[0].shape()).as(what).containsExactly(2, 3, 5, 4);
        assertThat(out[0].equalsWithEps(out[1], 1e-5)).as(what).isTrue();
        assertThat(grads[0][0].equalsWithEps(grads[1][0], 1e-5)).as("%s dA", what).isTrue();
        assertThat(grads[0][1].equalsWithEps(grads[1][1], 1e-5)).as("%s dB", what).isTrue();
      }
    }
  }
}
