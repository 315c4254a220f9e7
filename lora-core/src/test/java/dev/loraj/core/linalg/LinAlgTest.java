package dev.loraj.core.linalg;

import static dev.loraj.core.linalg.Matrices.gaussian;
import static dev.loraj.core.linalg.Matrices.relMaxError;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

class LinAlgTest {

  private static INDArray eye(int n) {
    return Nd4j.eye(n).castTo(DataType.FLOAT);
  }

  @Test
  void inverseOfSpdMatrix() {
    // a damped covariance as in CorDA: X^T X / rows + 0.1 I
    INDArray x = gaussian(200, 40, 6);
    INDArray c = x.transpose().mmul(x).div(200).add(eye(40).mul(0.1)); // [40, 40]
    INDArray before = c.dup();
    INDArray inv = LinAlg.inverse(c);
    assertThat(c.mmul(inv).sub(eye(40)).amaxNumber().doubleValue()).isLessThan(1e-4);
    assertThat(c).isEqualTo(before);
  }

  @Test
  void inverseClosedForm() {
    // [[4, 7], [2, 6]]^-1 = [[0.6, -0.7], [-0.2, 0.4]] (det = 10)
    INDArray inv = LinAlg.inverse(Nd4j.createFromArray(new float[][] {{4f, 7f}, {2f, 6f}}));
    assertThat(inv.toFloatMatrix()[0]).containsExactly(new float[] {0.6f, -0.7f}, within(1e-6f));
    assertThat(inv.toFloatMatrix()[1]).containsExactly(new float[] {-0.2f, 0.4f}, within(1e-6f));
  }

  @Test
  void solveMatchesInverseTimesB() {
    INDArray a = gaussian(30, 30, 1).add(eye(30).mul(10)); // well conditioned
    INDArray b = gaussian(30, 4, 2);
    INDArray x = LinAlg.solve(a, b);
    assertThat(x.shape()).containsExactly(30, 4);
    assertThat(relMaxError(a.mmul(x), b)).isLessThan(1e-5);
    assertThat(relMaxError(x, LinAlg.inverse(a).mmul(b))).isLessThan(1e-4);
  }

  @Test
  void largeSolveFromASmallStackThreadDoesNotCrash() throws InterruptedException {
    // regression: OpenBLAS' threaded sgesv needs more than 1 MiB of stack and crashed the JVM
    // when called from an ordinary thread; calls now run on Lapack's large-stack thread
    INDArray a = gaussian(400, 400, 1).add(eye(400).mul(40));
    INDArray b = gaussian(400, 3, 2);
    double[] err = {Double.NaN};
    Thread t = new Thread(null, () -> err[0] = relMaxError(a.mmul(LinAlg.solve(a, b)), b),
        "small-stack", 256L << 10);
    t.start();
    t.join();
    assertThat(err[0]).isLessThan(1e-4);
  }

  @Test
  void singularMatrixRaisesLapackExceptionWithInfo() {
    INDArray singular = Nd4j.createFromArray(new float[][] {{1f, 2f}, {2f, 4f}});
    assertThatThrownBy(() -> LinAlg.inverse(singular))
        .isInstanceOfSatisfying(LapackException.class, e -> {
          assertThat(e.routine()).isEqualTo("sgetrf");
          assertThat(e.info()).isEqualTo(2);
        })
        .hasMessageContaining("info=2");
    assertThatThrownBy(() -> LinAlg.solve(singular, gaussian(2, 1, 0)))
        .isInstanceOfSatisfying(LapackException.class, e -> assertThat(e.routine()).isEqualTo("sgesv"));
  }

  @Test
  void rejectsBadShapes() {
    assertThatThrownBy(() -> LinAlg.inverse(gaussian(3, 4, 0)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("a must be square, got shape [3, 4]");
    assertThatThrownBy(() -> LinAlg.solve(gaussian(3, 3, 0), gaussian(4, 1, 0)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("b must have 3 rows");
  }
}
