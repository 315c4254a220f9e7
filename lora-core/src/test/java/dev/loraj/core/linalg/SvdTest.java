package dev.loraj.core.linalg;

import static dev.loraj.core.linalg.Matrices.descendingNonNegative;
import static dev.loraj.core.linalg.Matrices.gaussian;
import static dev.loraj.core.linalg.Matrices.orthoError;
import static dev.loraj.core.linalg.Matrices.relMaxError;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

class SvdTest {

  @ParameterizedTest(name = "{0}x{1}")
  @CsvSource({"120,40", "40,120", "64,64", "1,7", "7,1"})
  void exactReconstructsWithOrthonormalFactors(int m, int n) {
    INDArray a = gaussian(m, n, 11L * m + n);
    INDArray before = a.dup();
    SvdResult svd = Svd.exact(a);
    int k = Math.min(m, n);

    assertThat(svd.u().shape()).containsExactly(m, k);
    assertThat(svd.s().shape()).containsExactly(k);
    assertThat(svd.vt().shape()).containsExactly(k, n);
    assertThat(relMaxError(svd.reconstruct(), a)).isLessThan(1e-5);
    assertThat(orthoError(svd.u())).isLessThan(1e-5);
    assertThat(orthoError(svd.vt().transpose())).isLessThan(1e-5);
    assertThat(descendingNonNegative(svd.s())).isTrue();
    assertThat(a).isEqualTo(before); // input not mutated
  }

  @Test
  void diagonalMatrixHasSortedAbsoluteDiagonalAsSingularValues() {
    // closed form: diag(d) = P |D| P^T (signed permutation), so S = sort(|d|) descending
    INDArray a = Nd4j.diag(Nd4j.createFromArray(3f, -7f, 0.5f, 2f));
    SvdResult svd = Svd.exact(a);
    assertThat(svd.s().toFloatVector()).containsExactly(new float[] {7f, 3f, 2f, 0.5f}, within(1e-6f));
    // the top singular vectors are +-e_1 on both sides, with u_1 v_1^T = sign(-7) e_1 e_1^T
    assertThat(svd.u().getFloat(1, 0) * svd.vt().getFloat(0, 1)).isCloseTo(-1f, within(1e-6f));
  }

  @Test
  void rankOneOuterProduct() {
    // closed form: x y^T = (x/|x|) (|x||y|) (y/|y|)^T, all other singular values 0
    INDArray x = Nd4j.createFromArray(new float[][] {{1f}, {2f}, {2f}}); // [3, 1], |x| = 3
    INDArray y = Nd4j.createFromArray(new float[][] {{3f, 0f, 4f, 0f, 0f}}); // [1, 5], |y| = 5
    SvdResult svd = Svd.exact(x.mmul(y)); // [3, 5]
    float[] s = svd.s().toFloatVector();
    assertThat(s[0]).isCloseTo(15f, within(1e-5f));
    assertThat(s[1]).isCloseTo(0f, within(1e-5f));
    assertThat(s[2]).isCloseTo(0f, within(1e-5f));
    float sign = Math.signum(svd.u().getFloat(0, 0));
    assertThat(svd.u().getColumn(0).mul(sign).toFloatVector())
        .containsExactly(new float[] {1f / 3, 2f / 3, 2f / 3}, within(1e-6f));
    assertThat(svd.vt().getRow(0).mul(sign).toFloatVector())
        .containsExactly(new float[] {0.6f, 0f, 0.8f, 0f, 0f}, within(1e-6f));
  }

  @Test
  void acceptsViewsAndFortranOrder() {
    INDArray base = gaussian(50, 60, 5);
    INDArray view = base.get(
        org.nd4j.linalg.indexing.NDArrayIndex.interval(3, 43),
        org.nd4j.linalg.indexing.NDArrayIndex.interval(5, 35)); // [40, 30] view
    INDArray fortran = view.dup('f');
    float[] s1 = Svd.exact(view).s().toFloatVector();
    float[] s2 = Svd.exact(fortran).s().toFloatVector();
    float[] s3 = Svd.exact(view.dup('c')).s().toFloatVector();
    assertThat(s1).containsExactly(s3, within(0f));
    assertThat(s2).containsExactly(s3, within(0f));
    assertThat(Svd.exact(view.transpose()).s().toFloatVector()).containsExactly(s3, within(1e-4f));
  }

  /**
   * Spectrum s_i = 0.8^i. Tolerances are ~3x the errors measured with this seed; without
   * oversampling the rank-th triplet converges like 0.8^(2 niter + 1) (Halko et al. Thm 9.2),
   * so the low-niter cases are loose by nature.
   */
  @ParameterizedTest(name = "{0}x{1} rank {2} niter {3} oversample {4}")
  @CsvSource({
    "300,200,8,2,0,0.03,0.2",
    "200,300,8,2,0,0.03,0.2",
    "256,256,16,4,0,1e-3,0.02",
    "300,200,8,1,10,1e-5,2e-3"
  })
  void randomizedMatchesExactTopTripletsOnDecayingSpectrum(
      int m, int n, int rank, int niter, int oversample, double sTol, double reconTol) {
    int k = Math.min(m, n);
    float[] spectrum = new float[k];
    for (int i = 0; i < k; i++) {
      spectrum[i] = (float) Math.pow(0.8, i); // geometric decay
    }
    INDArray a = Matrices.withSpectrum(m, n, spectrum, 99);
    INDArray before = a.dup();

    SvdResult approx = Svd.randomized(a, rank, niter, oversample, 1234L);
    SvdResult exact = Svd.exact(a).top(rank);

    assertThat(approx.u().shape()).containsExactly(m, rank);
    assertThat(approx.s().shape()).containsExactly(rank);
    assertThat(approx.vt().shape()).containsExactly(rank, n);
    assertThat(orthoError(approx.u())).isLessThan(1e-5);
    assertThat(orthoError(approx.vt().transpose())).isLessThan(1e-5);
    assertThat(descendingNonNegative(approx.s())).isTrue();
    // singular values and the rank-r reconstruction agree with the exact truncated SVD
    assertThat(relMaxError(approx.s(), exact.s())).isLessThan(sTol);
    assertThat(Matrices.relFrobError(approx.reconstruct(), exact.reconstruct())).isLessThan(reconTol);
    assertThat(a).isEqualTo(before);
  }

  @Test
  void moreSubspaceIterationsReduceTheError() {
    float[] spectrum = new float[100];
    for (int i = 0; i < spectrum.length; i++) {
      spectrum[i] = (float) Math.pow(0.9, i);
    }
    INDArray a = Matrices.withSpectrum(150, 100, spectrum, 5);
    INDArray exact = Svd.exact(a).top(6).reconstruct();
    double e0 = Matrices.relFrobError(Svd.randomized(a, 6, 0, 9L).reconstruct(), exact);
    double e4 = Matrices.relFrobError(Svd.randomized(a, 6, 4, 9L).reconstruct(), exact);
    assertThat(e4).isLessThan(e0 / 2);
  }

  @Test
  void randomizedIsDeterministicForASeed() {
    INDArray a = gaussian(80, 60, 3);
    SvdResult r1 = Svd.randomized(a, 5, 2, 7L);
    SvdResult r2 = Svd.randomized(a, 5, 2, 7L);
    assertThat(r1.u()).isEqualTo(r2.u());
    assertThat(r1.s()).isEqualTo(r2.s());
    assertThat(r1.vt()).isEqualTo(r2.vt());
  }

  @Test
  void randomizedWithFullRankIsExact() {
    INDArray a = gaussian(30, 20, 4);
    SvdResult r = Svd.randomized(a, 20, 0, 1L);
    assertThat(relMaxError(r.reconstruct(), a)).isLessThan(1e-5);
    assertThat(relMaxError(r.s(), Svd.exact(a).s())).isLessThan(1e-5);
  }

  @Test
  void rejectsBadInputsWithClearMessages() {
    INDArray nan = gaussian(4, 3, 1);
    nan.putScalar(2, 1, Float.NaN);
    assertThatThrownBy(() -> Svd.exact(nan))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("finite")
        .hasMessageContaining("[2, 1]");
    INDArray inf = gaussian(4, 3, 1);
    inf.putScalar(0, 2, Float.POSITIVE_INFINITY);
    assertThatThrownBy(() -> Svd.randomized(inf, 2, 1, 0L))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("finite");
    assertThatThrownBy(() -> Svd.exact(gaussian(4, 3, 1).castTo(DataType.DOUBLE)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("FLOAT");
    assertThatThrownBy(() -> Svd.exact(Nd4j.rand(DataType.FLOAT, 2, 2, 2)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("rank 2");
    assertThatThrownBy(() -> Svd.randomized(gaussian(4, 3, 1), 4, 1, 0L))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("rank must be in [1, min(m, n) = 3]");
    assertThatThrownBy(() -> Svd.randomized(gaussian(4, 3, 1), 2, -1, 0L))
        .hasMessageContaining("niter");
  }

  @Test
  void hugeFiniteValuesAreNotMistakenForNonFinite() {
    // the float sum overflows to Inf, yet every entry is finite: the fallback scan must accept it
    INDArray a = Nd4j.createFromArray(new float[][] {{3e38f, 3e38f}, {3e38f, 1f}});
    Lapack.requireFinite(a, "a");
    a.putScalar(1, 1, Float.NaN);
    assertThatThrownBy(() -> Lapack.requireFinite(a, "a")).hasMessageContaining("[1, 1]");
  }

  @Test
  void doublePrecisionSingularValuesMatchTheFloatSvd() {
    org.nd4j.linalg.api.ndarray.INDArray a = org.nd4j.linalg.factory.Nd4j.rand(org.nd4j.linalg.api.buffer.DataType.FLOAT, 37, 23);
    double[] s = Svd.singularValues(a);
    org.nd4j.linalg.api.ndarray.INDArray f = Svd.exact(a).s();
    org.assertj.core.api.Assertions.assertThat(s).hasSize(23);
    for (int i = 0; i < s.length; i++) {
      org.assertj.core.api.Assertions.assertThat(s[i]).isCloseTo(f.getDouble(i), org.assertj.core.data.Offset.offset(1e-4 * (1 + s[0])));
    }
  }
}
