package dev.loraj.core.graph;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

class FrozenMatMulTest {

  /** The input gradient equals ND4J's own matmul's, in both weight layouts; the weight gets none. */
  @Test
  void inputGradientMatchesMatmulAndWeightGetsNone() {
    Nd4j.getRandom().setSeed(1);
    for (boolean transposed : new boolean[] {true, false}) {
      INDArray xv = Nd4j.rand(DataType.FLOAT, 5, 7);
      INDArray wv = transposed ? Nd4j.rand(DataType.FLOAT, 3, 7) : Nd4j.rand(DataType.FLOAT, 7, 3);
      INDArray c = Nd4j.rand(DataType.FLOAT, 5, 3);

      SameDiff ref = SameDiff.create();
      SDVariable x1 = ref.var("x", xv.dup());
      SDVariable w1 = ref.var("w", wv.dup());
      SDVariable y1 = ref.mmul(x1, w1, false, transposed, false);
      y1.mul(ref.constant(c)).sum().markAsLoss();
      Map<String, INDArray> g1 = Graphs.quietly(() -> ref.calculateGradients(Map.of(), List.of("x")));

      SameDiff sd = Graphs.newSameDiff();
      SDVariable x2 = sd.var("x", xv.dup());
      SDVariable w2 = sd.constant("w", wv.dup());
      SDVariable y2 = FrozenMatMul.apply(sd, x2, w2, transposed);
      y2.mul(sd.constant(c)).sum().markAsLoss();
      Map<String, INDArray> g2 = Graphs.quietly(() -> sd.calculateGradients(Map.of(), List.of("x")));

      assertThat(sd.outputSingle(Map.of(), y2.name()).equalsWithEps(ref.outputSingle(Map.of(), y1.name()), 1e-6)).isTrue();
      assertThat(g2.get("x").equalsWithEps(g1.get("x"), 1e-6)).as("dx, transposed=%s", transposed).isTrue();
      SameDiff grad = sd.getFunction("grad");
      List<String> opNames = java.util.Arrays.stream(grad.ops()).map(op -> op.opName()).toList();
      assertThat(opNames).as("no matmul backward op in the gradient graph").doesNotContain("matmul_bp");
      System.out.println("gradient graph ops: " + opNames);
    }
  }
}
