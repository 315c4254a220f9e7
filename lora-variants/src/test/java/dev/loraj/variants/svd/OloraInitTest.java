package dev.loraj.variants.svd;

import static dev.loraj.variants.svd.TestSite.gaussian;
import static dev.loraj.variants.svd.TestSite.maxAbs;
import static org.assertj.core.api.Assertions.assertThat;

import dev.loraj.core.linalg.Qr;
import dev.loraj.core.linalg.QrResult;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

/** OLoRA ({@link OloraInit}): Q R = qr(W), B = Q_r, A = R_r, W_res = W - s B A. */
class OloraInitTest {

  static final int R = 4;

  static INDArray[] run(INDArray w, double s) {
    TestSite site = new TestSite(w, null);
    INDArray a = Nd4j.create(DataType.FLOAT, R, w.size(1));
    INDArray b = Nd4j.create(DataType.FLOAT, w.size(0), R);
    OloraInit.INSTANCE.initialize(a, b, s, site);
    return new INDArray[] {a, b, site.rewritten};
  }

  @Test
  void bHasOrthonormalColumnsAndAIsUpperTriangular() {
    INDArray w = gaussian(24, 16, 7);
    INDArray[] abw = run(w, 2.0);
    INDArray b = abw[1];
    assertThat(maxAbs(b.transpose().mmul(b), Nd4j.eye(R).castTo(DataType.FLOAT))).isLessThan(1e-5);
    for (int i = 0; i < R; i++) {
      for (int j = 0; j < i; j++) {
        assertThat(abw[0].getFloat(i, j)).isZero();
      }
    }
  }

  @Test
  void factorsAreTheLeadingQrBlocksOfTheOutInWeightWithoutDivisionByS() {
    INDArray w = gaussian(24, 16, 8);
    double s = 2.0;
    INDArray[] abw = run(w, s);
    QrResult qr = Qr.reduced(w); // torch.linalg.qr(weight) on the [out, in] weight
    assertThat(abw[1]).isEqualTo(qr.q().get(NDArrayIndex.all(), NDArrayIndex.interval(0, R)));
    assertThat(abw[0]).isEqualTo(qr.r().get(NDArrayIndex.interval(0, R), NDArrayIndex.all()));
    // B A reproduces W's first r columns (the QR's defining property) ...
    INDArray ba = abw[1].mmul(abw[0]); // [out, r] x [r, in]
    assertThat(maxAbs(ba.get(NDArrayIndex.all(), NDArrayIndex.interval(0, R)),
        w.get(NDArrayIndex.all(), NDArrayIndex.interval(0, R)))).isLessThan(1e-5);
    // ... and the residual removes s B A (no 1/s in the factors), so W_res + s B A = W
    assertThat(maxAbs(abw[2], w.sub(ba.mul(s)))).isLessThan(1e-6);
    assertThat(maxAbs(abw[2].add(ba.mul(s)), w)).isLessThan(1e-5);
  }

  @Test
  void wideWeightsWork() {
    INDArray w = gaussian(6, 20, 9); // out < in: Q [6, 6], R [6, 20]
    INDArray[] abw = run(w, 1.0);
    assertThat(abw[0].shape()).containsExactly(R, 20);
    assertThat(maxAbs(abw[1].transpose().mmul(abw[1]), Nd4j.eye(R).castTo(DataType.FLOAT))).isLessThan(1e-5);
    assertThat(maxAbs(abw[2].add(abw[1].mmul(abw[0])), w)).isLessThan(1e-5);
  }
}
