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

  /** Operands and result in [batch, seq, heads, d] layout equal the permuted standard products. */
  @Test
  void headsLayoutEqualsPermutedProducts() {
    INDArray[] out = new INDArray[2];
    INDArray[][] grads = new INDArray[2][];
    for (int k = 0; k < 2; k++) {
      Nd4j.getRandom().setSeed(17);
      SameDiff sd = Graphs.newSameDiff();
      SDVariable q = sd.var("q", Nd4j.randn(DataType.FLOAT, 2, 5, 3, 4)); // [B, S, H, d]
      SDVariable kk = sd.var("k", Nd4j.randn(DataType.FLOAT, 2, 5, 3, 4));
      SDVariable v = sd.var("v", Nd4j.randn(DataType.FLOAT, 2, 5, 3, 4));
      SDVariable ctx;
      if (k == 0) {
        SDVariable p = sd.nn().softmax(BatchedMatMul.of(sd, q, kk, false, true, true, true, false), 3);
        ctx = BatchedMatMul.of(sd, p, v, false, false, false, true, true); // [B, S, H, d]
      } else {
        SDVariable qh = sd.permute(q, 0, 2, 1, 3);
        SDVariable kh = sd.permute(kk, 0, 2, 1, 3);
        SDVariable vh = sd.permute(v, 0, 2, 1, 3);
        SDVariable p = sd.nn().softmax(sd.mmul(qh, kh, false, true, false), 3);
        ctx = sd.permute(sd.mmul(p, vh), 0, 2, 1, 3);
      }
      SDVariable loss = ctx.mul(sd.constant(Nd4j.randn(DataType.FLOAT, 2, 5, 3, 4))).sum();
      loss.markAsLoss();
      Graphs.createGradFunction(sd, List.of());
      OutAndGrad og = Graphs.gradientsAndOutputs(sd, Map.of(), List.of(ctx.name()), List.of("q", "k", "v"));
      out[k] = og.getOutputs().get(ctx.name()).dup();
      grads[k] = new INDArray[] {og.getGradients().get("q").dup(), og.getGradients().get("k").dup(),
          og.getGradients().get("v").dup()};
    }
    assertThat(out[0].shape()).containsExactly(2, 5, 3, 4);
    assertThat(out[0].equalsWithEps(out[1], 1e-5)).isTrue();
    for (int i = 0; i < 3; i++) {
      assertThat(grads[0][i].equalsWithEps(grads[1][i], 1e-5)).as("grad %d", i).isTrue();
    }
  }
}
