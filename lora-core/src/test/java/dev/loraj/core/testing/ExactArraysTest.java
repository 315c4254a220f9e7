package dev.loraj.core.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Map;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

class ExactArraysTest {

  @Test
  void aChangeInsideINDArrayEqualsToleranceIsADifference() {
    INDArray a = Nd4j.createFromArray(new float[] {1f, 2f, 3f}).reshape(1, 3);
    INDArray b = a.dup();
    b.putScalar(0, 2, 3f + 1e-6f);
    assertThat(a.equals(b)).as("ND4J's tolerant equals").isTrue();
    assertThat(ExactArrays.bitIdentical(a, b)).isFalse();
    assertThatThrownBy(() -> ExactArrays.assertBitIdentical(b, a, "w"))
        .hasMessageContaining("w: not bit-identical: 1 of 3 elements differ; first at [0, 2]");
  }

  @Test
  void dataTypeShapeAndSignedZeroCount() {
    INDArray f = Nd4j.createFromArray(0f, 1f);
    assertThat(ExactArrays.bitIdentical(f, f.castTo(DataType.DOUBLE))).isFalse();
    assertThat(ExactArrays.bitIdentical(f, f.reshape(1, 2))).isFalse();
    assertThat(ExactArrays.bitIdentical(f, Nd4j.createFromArray(-0f, 1f))).isFalse();
    assertThatThrownBy(() -> ExactArrays.assertBitIdentical(f, f.castTo(DataType.DOUBLE), "x"))
        .hasMessageContaining("data type FLOAT, expected DOUBLE");
  }

  @Test
  void equalContentsInAnyLayoutAreIdentical() {
    INDArray m = Nd4j.createFromArray(new float[][] {{1, 2, 3}, {4, 5, 6}});
    INDArray transposedTwice = m.transpose().dup('f').transpose();
    ExactArrays.assertBitIdentical(transposedTwice, m, "layout");
    ExactArrays.assertBitIdentical(Map.of("m", m.dup()), Map.of("m", m), "maps");
    assertThatThrownBy(() -> ExactArrays.assertBitIdentical(Map.of("n", m), Map.of("m", m), "maps"))
        .hasMessageContaining("missing [m], extra [n]");
    ExactArrays.assertBitIdentical(Nd4j.createFromArray(1L, 2L), Nd4j.createFromArray(1L, 2L), "longs");
  }
}
