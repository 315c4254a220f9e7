package dev.loraj.core.graph;

import dev.loraj.core.testing.ExactArrays;
import static org.assertj.core.api.Assertions.assertThat;

import dev.loraj.core.train.Objective;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.autodiff.samediff.api.OutAndGrad;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * {@link Graphs#gradientsAndOutputs} reuses the arrays of earlier runs (dirty buffers of the same
 * shapes): its loss and gradients must equal ND4J's own call, which allocates everything afresh,
 * run after run on changing data.
 */
class GradientCacheTest {

  @Test
  void reusedArraysGiveTheSameLossAndGradientsAsFreshOnes() {
    Nd4j.getRandom().setSeed(23);
    SameDiff sd = Graphs.newSameDiff();
    SDVariable x = sd.placeHolder("x", DataType.FLOAT, -1, 12);
    SDVariable w1 = sd.var("w1", Nd4j.randn(DataType.FLOAT, 12, 16).muli(0.5));
    SDVariable b1 = sd.var("b1", Nd4j.zeros(DataType.FLOAT, 16));
    SDVariable w2 = sd.var("w2", Nd4j.randn(DataType.FLOAT, 16, 5).muli(0.5));
    SDVariable h = RowNorm.layerNorm(sd, sd.math().tanh(x.mmul(w1).add(b1)), 1e-5, true);
    SDVariable loss = Objective.classification().loss(sd, h.mmul(w2));
    loss.markAsLoss();
    Graphs.createGradFunction(sd, List.of());
    List<String> params = List.of("w1", "b1", "w2");
    for (int step = 0; step < 4; step++) {
      INDArray xs = Nd4j.randn(DataType.FLOAT, 9, 12).muli(1 + step);
      INDArray labels = Nd4j.zeros(DataType.FLOAT, 9, 5);
      for (int i = 0; i < 9; i++) {
        labels.putScalar(i, (i * 7 + step) % 5, 1f);
      }
      Map<String, INDArray> ph = Map.of("x", xs, "labels", labels);
      OutAndGrad reused = Graphs.gradientsAndOutputs(sd, ph, List.of(loss.name()), params);
      double l1 = reused.getOutputs().get(loss.name()).getDouble(0);
      Map<String, INDArray> g1 = Map.of("w1", reused.getGradients().get("w1").dup(),
          "b1", reused.getGradients().get("b1").dup(), "w2", reused.getGradients().get("w2").dup());
      OutAndGrad fresh = sd.calculateGradientsAndOutputs(ph, List.of(loss.name()), params);
      assertThat(l1).as("loss, step %d", step).isEqualTo(fresh.getOutputs().get(loss.name()).getDouble(0));
      for (String p : params) {
        ExactArrays.assertBitIdentical(g1.get(p), fresh.getGradients().get(p), String.format("%s, step %d", p, step));
      }
    }
  }
}
