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

class FrozenAddTest {

  /** Same output and input gradient as ND4J's add with a constant bias; no add_bp for it. */
  @Test
  void inputGradientMatchesAddAndTheBiasGetsNoReduction() {
    Nd4j.getRandom().setSeed(5);
    INDArray xv = Nd4j.rand(DataType.FLOAT, 4, 6);
    INDArray bv = Nd4j.rand(DataType.FLOAT, 6);
    INDArray c = Nd4j.rand(DataType.FLOAT, 4, 6);

    SameDiff ref = SameDiff.create();
    SDVariable y1 = ref.math().tanh(ref.var("x", xv.dup()).add(ref.constant("b", bv.dup())));
    y1.mul(ref.constant(c)).sum().markAsLoss();
    Map<String, INDArray> g1 = Graphs.quietly(() -> ref.calculateGradients(Map.of(), List.of("x")));

    SameDiff sd = Graphs.newSameDiff();
    SDVariable y2 = sd.math().tanh(FrozenAdd.byWeight(sd, sd.var("x", xv.dup()), sd.constant("b", bv.dup())));
    y2.mul(sd.constant(c)).sum().markAsLoss();
    Map<String, INDArray> g2 = Graphs.quietly(() -> sd.calculateGradients(Map.of(), List.of("x")));

    assertThat(sd.outputSingle(Map.of(), y2.name()).equalsWithEps(ref.outputSingle(Map.of(), y1.name()), 1e-6)).isTrue();
    assertThat(g2.get("x").equalsWithEps(g1.get("x"), 1e-6)).isTrue();
    assertThat(count(ref, "add_bp")).isEqualTo(1);
    assertThat(count(sd, "add_bp")).isZero();
  }

  /** A trainable bias keeps ND4J's add and gets its gradient (the column sums). */
  @Test
  void aTrainableBiasStillGetsItsGradient() {
    SameDiff sd = Graphs.newSameDiff();
    SDVariable x = sd.var("x", Nd4j.rand(DataType.FLOAT, 4, 6));
    SDVariable b = sd.var("b", Nd4j.rand(DataType.FLOAT, 6));
    SDVariable c = sd.constant(Nd4j.rand(DataType.FLOAT, 4, 6));
    FrozenAdd.byWeight(sd, x, b).mul(c).sum().markAsLoss();
    Map<String, INDArray> g = Graphs.quietly(() -> sd.calculateGradients(Map.of(), List.of("x", "b")));
    assertThat(g.get("b").equalsWithEps(c.getArr().sum(0), 1e-5)).isTrue();
    assertThat(g.get("x").equalsWithEps(c.getArr(), 1e-6)).isTrue();
  }

  private static long count(SameDiff sd, String op) {
    return Arrays.stream(sd.getFunction("grad").ops()).filter(o -> o.opName().equals(op)).count();
  }
}
