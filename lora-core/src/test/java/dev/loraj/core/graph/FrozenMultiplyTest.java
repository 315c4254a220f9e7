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

class FrozenMultiplyTest {

  /** Same output and input gradient as ND4J's multiply; no multiply_bp in the gradient graph. */
  @Test
  void inputGradientMatchesMultiplyForAConstantAndADerivedTable() {
    Nd4j.getRandom().setSeed(3);
    INDArray xv = Nd4j.rand(DataType.FLOAT, 4, 6);
    INDArray wv = Nd4j.rand(DataType.FLOAT, 1, 6);
    INDArray c = Nd4j.rand(DataType.FLOAT, 4, 6);
    for (boolean derived : new boolean[] {false, true}) {
      SameDiff ref = SameDiff.create();
      SDVariable x1 = ref.var("x", xv.dup());
      SDVariable w1 = derived ? ref.math().cos(ref.constant("w", wv.dup())) : ref.constant("w", wv.dup());
      SDVariable y1 = ref.math().tanh(x1.mul(w1));
      y1.mul(ref.constant(c)).sum().markAsLoss();
      Map<String, INDArray> g1 = Graphs.quietly(() -> ref.calculateGradients(Map.of(), List.of("x")));

      SameDiff sd = Graphs.newSameDiff();
      SDVariable x2 = sd.var("x", xv.dup());
      SDVariable w2 = derived ? sd.math().cos(sd.constant("w", wv.dup())) : sd.constant("w", wv.dup());
      SDVariable y2 = sd.math().tanh(derived ? FrozenMultiply.apply(sd, x2, w2) : FrozenMultiply.byWeight(sd, x2, w2));
      y2.mul(sd.constant(c)).sum().markAsLoss();
      Map<String, INDArray> g2 = Graphs.quietly(() -> sd.calculateGradients(Map.of(), List.of("x")));

      assertThat(sd.outputSingle(Map.of(), y2.name()).equalsWithEps(ref.outputSingle(Map.of(), y1.name()), 1e-6)).isTrue();
      assertThat(g2.get("x").equalsWithEps(g1.get("x"), 1e-6)).as("dx, derived=%s", derived).isTrue();
      // the loss's own multiply by c keeps its multiply_bp; the frozen one has none
      assertThat(bpCount(sd)).as("multiply_bp ops, derived=%s", derived).isEqualTo(bpCount(ref) - 1);
    }
  }

  private static long bpCount(SameDiff sd) {
    return java.util.Arrays.stream(sd.getFunction("grad").ops()).filter(op -> op.opName().equals("multiply_bp")).count();
  }

  /** A trainable weight keeps ND4J's full backward (its gradient is needed). */
  @Test
  void aTrainableWeightStillGetsItsGradient() {
    SameDiff sd = Graphs.newSameDiff();
    SDVariable x = sd.var("x", Nd4j.rand(DataType.FLOAT, 4, 6));
    SDVariable w = sd.var("w", Nd4j.rand(DataType.FLOAT, 1, 6));
    FrozenMultiply.byWeight(sd, x, w).sum().markAsLoss();
    Map<String, INDArray> g = Graphs.quietly(() -> sd.calculateGradients(Map.of(), List.of("x", "w")));
    assertThat(g.get("w").equalsWithEps(x.getArr().sum(true, 0), 1e-5)).isTrue();
  }
}
