package dev.loraj.core.linalg;

import static dev.loraj.core.linalg.Matrices.gaussian;
import static dev.loraj.core.linalg.Matrices.orthoError;
import static dev.loraj.core.linalg.Matrices.relMaxError;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

class QrTest {

  @ParameterizedTest(name = "{0}x{1}")
  @CsvSource({"90,30", "30,90", "50,50", "1,5", "5,1"})
  void reducedQrReconstructsWithOrthonormalQAndTriangularR(int m, int n) {
    INDArray a = gaussian(m, n, 31L * m + n);
    INDArray before = a.dup();
    int k = Math.min(m, n);
    for (QrResult qr : new QrResult[] {Qr.reduced(a), Qr.reducedPositive(a)}) {
      assertThat(qr.q().shape()).containsExactly(m, k);
      assertThat(qr.r().shape()).containsExactly(k, n);
      assertThat(relMaxError(qr.q().mmul(qr.r()), a)).isLessThan(1e-5);
      assertThat(orthoError(qr.q())).isLessThan(1e-5);
      for (int i = 0; i < k; i++) {
        for (int j = 0; j < Math.min(i, n); j++) {
          assertThat(qr.r().getFloat(i, j)).isZero();
        }
      }
    }
    assertThat(a).isEqualTo(before);
  }

  @Test
  void positiveVariantHasNonNegativeDiagonalAndDiffersOnlyBySigns() {
    INDArray a = gaussian(40, 20, 8);
    QrResult raw = Qr.reduced(a);
    QrResult pos = Qr.reducedPositive(a);
    for (int j = 0; j < 20; j++) {
      float sign = Math.signum(raw.r().getFloat(j, j));
      assertThat(pos.r().getFloat(j, j)).isPositive();
      assertThat(pos.q().getColumn(j).toFloatVector())
          .containsExactly(raw.q().getColumn(j).mul(sign).toFloatVector(), within(0f));
    }
  }

  @Test
  void lapackSignConventionOnAClosedForm() {
    // Householder QR of [[3],[4]]: LAPACK reflects x onto -sign(x_1)|x| e_1, so R = [[-5]],
    // Q = [[-0.6],[-0.8]] (numpy.linalg.qr and torch.linalg.qr give the same).
    QrResult qr = Qr.reduced(Nd4j.createFromArray(new float[][] {{3f}, {4f}}));
    assertThat(qr.r().getFloat(0, 0)).isCloseTo(-5f, within(1e-6f));
    assertThat(qr.q().toFloatVector()).containsExactly(new float[] {-0.6f, -0.8f}, within(1e-6f));
    QrResult pos = Qr.reducedPositive(Nd4j.createFromArray(new float[][] {{3f}, {4f}}));
    assertThat(pos.r().getFloat(0, 0)).isCloseTo(5f, within(1e-6f));
    assertThat(pos.q().toFloatVector()).containsExactly(new float[] {0.6f, 0.8f}, within(1e-6f));
  }

  @Test
  void rejectsNonFinite() {
    INDArray a = gaussian(5, 5, 2);
    a.putScalar(4, 0, Float.NEGATIVE_INFINITY);
    assertThatThrownBy(() -> Qr.reduced(a))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("a must contain only finite values, found -Infinity at [4, 0]");
  }
}
