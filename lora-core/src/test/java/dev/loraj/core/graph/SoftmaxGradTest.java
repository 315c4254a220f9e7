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

class SoftmaxGradTest {

  /** Output and input gradient equal ND4J's softmax / softmax_bp, on the last and a middle axis. */
  @Test
  void gradientMatchesNd4jSoftmaxBp() {
    Nd4j.getRandom().setSeed(5);
    INDArray xv = Nd4j.randn(DataType.FLOAT, 2, 3, 4, 5).muli(3);
    INDArray c = Nd4j.randn(DataType.FLOAT, 2, 3, 4, 5);
    for (int axis : new int[] {3, 1}) {
      SameDiff ref = SameDiff.create();
      SDVariable x1 = ref.var("x", xv.dup());
      SDVariable y1 = ref.nn().softmax(x1, axis);
      ref.math().square(y1.mul(ref.constant(c))).sum().markAsLoss();
      Map<String, INDArray> g1 = Graphs.quietly(() -> ref.calculateGradients(Map.of(), List.of("x")));

      SameDiff sd = Graphs.newSameDiff();
      SDVariable x2 = sd.var("x", xv.dup());
      SDVariable y2 = SoftmaxGrad.apply(sd, x2, axis);
      sd.math().square(y2.mul(sd.constant(c))).sum().markAsLoss();
      Map<String, INDArray> g2 = Graphs.quietly(() -> sd.calculateGradients(Map.of(), List.of("x")));

      assertThat(sd.outputSingle(Map.of(), y2.name()).equalsWithEps(ref.outputSingle(Map.of(), y1.name()), 1e-6)).isTrue();
      assertThat(g2.get("x").equalsWithEps(g1.get("x"), 1e-5)).as("dx along axis %d", axis).isTrue();
      assertThat(java.util.Arrays.stream(sd.getFunction("grad").ops()).map(op -> op.opName()))
          .doesNotContain("softmax_bp");
    }
  }
}
