package dev.loraj.core.graph;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.autodiff.samediff.api.OutAndGrad;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/** {@link Graphs#dropout}: torch.nn.Dropout's training behaviour, and it can be trained through. */
class DropoutTest {

  @Test
  void zeroesAFractionPScalesTheRestAndPassesGradientThroughTheMask() {
    double p = 0.25;
    SameDiff sd = Graphs.newSameDiff();
    SDVariable x = sd.placeHolder("x", DataType.FLOAT, -1, 200);
    SDVariable w = sd.var("w", Nd4j.ones(DataType.FLOAT, 1, 200).muli(2));
    SDVariable y = Graphs.dropout(sd, x.mul(w), p);
    SDVariable loss = y.sum();
    loss.markAsLoss();
    Graphs.createGradFunction(sd, List.of());
    INDArray xs = Nd4j.ones(DataType.FLOAT, 50, 200);
    Nd4j.getRandom().setSeed(3);
    INDArray first = null;
    for (int run = 0; run < 4; run++) {
      OutAndGrad r = Graphs.gradientsAndOutputs(sd, Map.of("x", xs), List.of(y.name()), List.of("w"));
      INDArray out = r.getOutputs().get(y.name());
      // every entry is 0 or 2 / (1 - p); about a fraction p are 0
      long zeros = out.eq(0).castTo(DataType.INT32).sumNumber().longValue();
      long kept = out.eq(2 / (1 - p)).castTo(DataType.INT32).sumNumber().longValue();
      assertThat(zeros + kept).as("run %d", run).isEqualTo(out.length());
      assertThat((double) zeros / out.length()).as("run %d", run).isCloseTo(p, org.assertj.core.data.Offset.offset(0.02));
      // d sum(x w mask) / dw = column sums of x * mask = (number kept in the column) / (1 - p)
      INDArray keptPerColumn = out.neq(0).castTo(DataType.FLOAT).sum(0).reshape(1, 200).divi(1 - p);
      assertThat(r.getGradients().get("w").equalsWithEps(keptPerColumn, 1e-3)).as("run %d", run).isTrue();
      if (first == null) {
        first = out.dup();
      } else {
        assertThat(out.equalsWithEps(first, 0)).as("a new mask every run").isFalse();
      }
    }
    assertThat(Graphs.dropout(sd, x, 0)).isSameAs(x);
    assertThatThrownBy(() -> Graphs.dropout(sd, x, 1.0)).hasMessageContaining("dropout = 1.0");
  }
}
