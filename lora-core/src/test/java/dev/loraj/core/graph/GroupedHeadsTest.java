package dev.loraj.core.graph;

import static org.assertj.core.api.Assertions.assertThat;

import dev.loraj.core.testing.ExactArrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * GroupedHeads: the repeated heads are the copies libnd4j's {@code tile} makes (bit for bit), and
 * the gradient, each group's sum, equals {@code tile}'s derivative to float rounding (1e-6
 * absolute on sums of three values of order 1).
 */
class GroupedHeadsTest {

  @Test
  void repeatsAsTileAndSumsTheGradientOfEachGroup() {
    int b = 2;
    int s = 5;
    int kv = 2;
    int group = 3;
    int d = 4;
    INDArray x = Nd4j.rand(DataType.FLOAT, b, s, kv, d).subi(0.5);
    INDArray c = Nd4j.rand(DataType.FLOAT, b, s, kv * group, d).subi(0.5);
    INDArray[] mine = run(x, c, group, true);
    INDArray[] tiled = run(x, c, group, false);
    ExactArrays.assertBitIdentical(mine[0], tiled[0], "repeated heads");
    assertThat(mine[1].equalsWithEps(tiled[1], 1e-6)).as("gradient %s vs %s", mine[1], tiled[1]).isTrue();
    // head j of row (0, 1) is key/value head j / group
    for (int j = 0; j < kv * group; j++) {
      assertThat(mine[0].getFloat(0, 1, j, 2)).isEqualTo(x.getFloat(0, 1, j / group, 2));
    }
  }

  /** The repeated heads and dL/dx for L = sum(repeat(x) * c), by this op or by tile. */
  private static INDArray[] run(INDArray x, INDArray c, int group, boolean op) {
    SameDiff sd = Graphs.newSameDiff();
    SDVariable v = sd.var("x", x.dup());
    long[] s = x.shape();
    SDVariable r = op ? GroupedHeads.repeat(sd, v, group)
        : sd.reshape(sd.tile(sd.expandDims(v, 3), 1, 1, 1, group, 1), s[0], s[1], s[2] * group, s[3]);
    SDVariable loss = r.mul(sd.constant(c)).sum();
    sd.setLossVariables(loss.name());
    Graphs.createGradFunction(sd, List.of());
    INDArray out = sd.output(Map.of(), r.name()).get(r.name());
    INDArray grad = sd.calculateGradients(Map.of(), "x").get("x");
    return new INDArray[] {out, grad};
  }
}
