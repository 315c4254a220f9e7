package dev.loraj.bench.step;

import static org.assertj.core.api.Assertions.assertThat;

import dev.loraj.core.graph.Graphs;
import dev.loraj.core.lora.Fill;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/** The fused cross-entropy of the step benchmark equals Objective.classification(): loss and gradient. */
class BenchObjectiveTest {

  @Test
  void fusedLossHasTheSameLossAndGradientAsTheElementaryOne() {
    SplittableRandom rnd = new SplittableRandom(5);
    INDArray w0 = Fill.normal(new long[] {16, 50}, 1, rnd);
    INDArray x = Fill.normal(new long[] {6, 16}, 1, rnd);
    INDArray labels = Nd4j.zeros(DataType.FLOAT, 6, 50);
    for (int i = 0; i < 6; i++) {
      labels.putScalar(i, rnd.nextInt(50), 1f);
    }
    double[] loss = new double[2];
    INDArray[] grad = new INDArray[2];
    for (int v = 0; v < 2; v++) {
      SameDiff sd = Graphs.newSameDiff();
      SDVariable w = sd.var("w", w0.dup());
      SDVariable logits = sd.placeHolder("x", DataType.FLOAT, -1, 16).mmul(w); // [6, 16] x [16, 50]
      SDVariable l = StepBench.objective(v == 1).loss(sd, logits);
      sd.setLossVariables(l.name());
      Graphs.createGradFunction(sd, List.of());
      var og = sd.calculateGradientsAndOutputs(Map.of("x", x, "labels", labels), List.of(l.name()), List.of("w"));
      loss[v] = og.getOutputs().get(l.name()).getDouble(0);
      grad[v] = og.getGradients().get("w");
    }
    assertThat(loss[1]).isCloseTo(loss[0], org.assertj.core.data.Offset.offset(1e-5));
    assertThat(grad[1].sub(grad[0]).amaxNumber().doubleValue()).isLessThan(1e-5);
    assertThat(grad[0].amaxNumber().doubleValue()).isGreaterThan(1e-3);
  }
}
