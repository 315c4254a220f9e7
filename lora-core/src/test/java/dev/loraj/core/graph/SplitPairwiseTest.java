package dev.loraj.core.graph;

import static org.assertj.core.api.Assertions.assertThat;

import dev.loraj.core.engine.Threads;
import dev.loraj.core.testing.ExactArrays;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * SplitPairwise: add, subtract, multiply and divide, of equal shapes and with a row broadcast
 * over rows, give libnd4j's bits on one thread and split over two (odd lengths, so the scalar
 * tail runs too); it declines what it does not compute.
 */
class SplitPairwiseTest {

  @AfterEach
  void restore() {
    Threads.configure(1);
  }

  private static SplitPairwise pairwise(String name) {
    SameDiff sd = SameDiff.create();
    SDVariable a = sd.var("a", DataType.FLOAT, 2, 2);
    SDVariable b = sd.var("b", DataType.FLOAT, 2, 2);
    SDVariable r = switch (name) {
      case "add" -> a.add(b);
      case "subtract" -> a.sub(b);
      case "multiply" -> a.mul(b);
      default -> a.div(b);
    };
    SplitPairwise p = SplitPairwise.of(sd.getVariableOutputOp(r.name()));
    assertThat(p).as(name).isNotNull();
    return p;
  }

  @Test
  void givesLibnd4jsBitsOnOneAndTwoThreads() {
    int old = Threads.setMinChunk(64);
    try {
      INDArray a = Nd4j.rand(DataType.FLOAT, 301, 37).subi(0.5);
      INDArray b = Nd4j.rand(DataType.FLOAT, 301, 37).addi(0.5);
      INDArray row = Nd4j.rand(DataType.FLOAT, 37).addi(0.5);
      for (int threads : new int[] {1, 2}) {
        Threads.configure(threads);
        for (String op : new String[] {"add", "subtract", "multiply", "divide"}) {
          for (INDArray y : new INDArray[] {b, row}) {
            INDArray expected = switch (op) {
              case "add" -> a.add(y);
              case "subtract" -> a.sub(y);
              case "multiply" -> a.mul(y);
              default -> a.div(y);
            };
            INDArray c = Nd4j.createUninitialized(DataType.FLOAT, 301, 37);
            assertThat(pairwise(op).run(a, y, c)).isTrue();
            ExactArrays.assertBitIdentical(c, expected, op + " " + java.util.Arrays.toString(y.shape())
                + " on " + threads + " thread(s)");
          }
        }
      }
    } finally {
      Threads.setMinChunk(old);
    }
  }

  @Test
  void declinesOtherTypesLayoutsAndShapes() {
    SplitPairwise add = pairwise("add");
    INDArray a = Nd4j.rand(DataType.FLOAT, 8, 6);
    INDArray c = Nd4j.create(DataType.FLOAT, 8, 6);
    assertThat(add.run(a.castTo(DataType.DOUBLE), a.castTo(DataType.DOUBLE), c.castTo(DataType.DOUBLE)))
        .as("double").isFalse();
    assertThat(add.run(a.dup('f'), a, c)).as("f order").isFalse();
    assertThat(add.run(Nd4j.rand(DataType.FLOAT, 8, 1), a, c)).as("broadcast first").isFalse();
    assertThat(add.run(a, Nd4j.rand(DataType.FLOAT, 8, 1), c)).as("column broadcast").isFalse();
    assertThat(SplitPairwise.of(new org.nd4j.linalg.api.ops.impl.reduce.Mmul())).isNull();
  }
}
