package dev.loraj.variants.svd;

import static dev.loraj.variants.svd.TestSite.gaussian;
import static dev.loraj.variants.svd.TestSite.maxAbs;
import static dev.loraj.variants.svd.TestSite.relFrob;
import static dev.loraj.variants.svd.TestSite.spd;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.loraj.core.linalg.LinAlg;
import dev.loraj.core.linalg.Svd;
import dev.loraj.core.linalg.SvdResult;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/** CorDA ({@link CordaInit}): arXiv 2406.05223, docs/variants.md "CorDA". */
class CordaInitTest {

  static final int OUT = 12;
  static final int IN = 8;
  static final int R = 4;

  static INDArray[] run(LoraInitRunner init, INDArray w, INDArray cov, double s) {
    TestSite site = new TestSite(w, cov);
    INDArray a = Nd4j.create(DataType.FLOAT, R, w.size(1));
    INDArray b = Nd4j.create(DataType.FLOAT, w.size(0), R);
    init.run(a, b, s, site);
    return new INDArray[] {a, b, site.rewritten};
  }

  interface LoraInitRunner {
    void run(INDArray a, INDArray b, double s, TestSite site);
  }

  static LoraInitRunner corda(CordaInit.Mode m) {
    return new CordaInit(m)::initialize;
  }

  @Test
  void identityCovarianceGivesPissa() {
    INDArray w = gaussian(OUT, IN, 11);
    INDArray eye = Nd4j.eye(IN).castTo(DataType.FLOAT);
    double s = 2.0;
    INDArray[] corda = run(corda(CordaInit.Mode.IPM), w, eye, s);
    INDArray[] pissa = run(SvdInit.principal()::initialize, w, null, s);
    INDArray cordaTerm = corda[1].mmul(corda[0]).muli(s);
    INDArray pissaTerm = pissa[1].mmul(pissa[0]).muli(s);
    assertThat(relFrob(cordaTerm, pissaTerm)).isLessThan(1e-5);
    assertThat(maxAbs(corda[2], pissa[2])).isLessThan(1e-5);
    // C' = 1.01 I: the factors are PiSSA's up to 1.01^(-1/2) on A and 1.01^(1/2) on B
    assertThat(maxAbs(corda[0].mul(Math.sqrt(1.01)), pissa[0])).isLessThan(1e-5);
  }

  @Test
  void ipmAndKpmTakeOppositeEndsOfTheCovarianceOrientedSvd() {
    INDArray w = gaussian(OUT, IN, 12);
    INDArray c = spd(IN, 13);
    double s = 0.5;
    INDArray[] ipm = run(corda(CordaInit.Mode.IPM), w, c, s);
    INDArray[] kpm = run(corda(CordaInit.Mode.KPM), w, c, s);

    CordaInit.Damped d = CordaInit.damp(c);
    SvdResult wc = Svd.exact(w.mmul(d.covariance())); // 8 triplets
    INDArray vt = wc.vt().mmul(d.inverse()); // V^T = Vh C'^-1
    SvdResult oriented = new SvdResult(wc.u(), wc.s(), vt);
    INDArray top = SvdInit.slice(oriented, R, SvdInit.Slice.PRINCIPAL).reconstruct();
    INDArray bottom = SvdInit.slice(oriented, R, SvdInit.Slice.MINOR).reconstruct();

    INDArray ipmTerm = ipm[1].mmul(ipm[0]).muli(s);
    INDArray kpmTerm = kpm[1].mmul(kpm[0]).muli(s);
    assertThat(relFrob(ipmTerm, top)).isLessThan(1e-4);
    assertThat(relFrob(kpmTerm, bottom)).isLessThan(1e-4);
    // IN = 2R: the two halves add up to U S Vh C'^-1 = W C' C'^-1 = W
    assertThat(relFrob(ipmTerm.add(kpmTerm), w)).isLessThan(1e-4);
    // each residual restores W with its adapter
    assertThat(maxAbs(ipm[2].add(ipmTerm), w)).isLessThan(1e-5);
    assertThat(maxAbs(kpm[2].add(kpmTerm), w)).isLessThan(1e-5);
    // IPM's directions carry more of W C' than KPM's
    double ipmEnergy = ipmTerm.mmul(d.covariance()).norm2Number().doubleValue();
    double kpmEnergy = kpmTerm.mmul(d.covariance()).norm2Number().doubleValue();
    assertThat(ipmEnergy).isGreaterThan(kpmEnergy);
  }

  @Test
  void dampingAddsAMultipleOfTheMeanDiagonalUntilTheInverseIsAccurate() {
    INDArray c = spd(IN, 14);
    CordaInit.Damped d = CordaInit.damp(c);
    assertThat(d.damp()).isEqualTo(0.01);
    double meanDiag = 0;
    for (int i = 0; i < IN; i++) {
      meanDiag += c.getDouble(i, i) / IN;
    }
    INDArray eye = Nd4j.eye(IN).castTo(DataType.FLOAT);
    assertThat(maxAbs(d.covariance(), c.add(eye.mul(0.01 * meanDiag)))).isLessThan(1e-6);
    assertThat(maxAbs(d.inverse(), LinAlg.inverse(d.covariance()))).isLessThan(1e-6);
    // a rank-one covariance (one input direction seen) still gets a usable inverse
    INDArray v = gaussian(IN, 1, 15);
    CordaInit.Damped rankOne = CordaInit.damp(v.mmul(v.transpose()));
    assertThat(rankOne.covariance().mmul(rankOne.inverse()).subi(eye).norm2Number().doubleValue())
        .isLessThan(0.05);
  }

  @Test
  void withoutCalibrationDataCordaFailsClearly() {
    INDArray w = gaussian(OUT, IN, 16);
    assertThatThrownBy(() -> run(corda(CordaInit.Mode.IPM), w, null, 1.0))
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("CorDA")
        .hasMessageContaining("layer")
        .hasMessageContaining("PeftModel.calibrate");
    assertThatThrownBy(() -> run(corda(CordaInit.Mode.IPM), w, Nd4j.zeros(DataType.FLOAT, IN, IN), 1.0))
        .hasMessageContaining("mean diagonal");
  }
}
