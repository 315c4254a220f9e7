package dev.loraj.variants.svd;

import static dev.loraj.variants.svd.TestSite.gaussian;
import static dev.loraj.variants.svd.TestSite.geometric;
import static dev.loraj.variants.svd.TestSite.maxAbs;
import static dev.loraj.variants.svd.TestSite.relFrob;
import static dev.loraj.variants.svd.TestSite.withSpectrum;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.loraj.core.adapter.AdapterRegistry;
import dev.loraj.core.adapter.ConfigCodec;
import dev.loraj.core.linalg.Svd;
import dev.loraj.core.linalg.SvdResult;
import dev.loraj.core.lora.LoraConfig;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/** PiSSA / MiLoRA ({@link SvdInit}): the equations of docs/variants.md "PiSSA" and "MiLoRA" (arXiv 2404.02948, 2406.09044). */
class SvdInitTest {

  static final int OUT = 24;
  static final int IN = 16;
  static final int R = 4;

  /** Runs {@code init} on W with rank R and scaling s; returns {a, b, rewritten base}. */
  static INDArray[] run(SvdInit init, INDArray w, double s) {
    TestSite site = new TestSite(w, null);
    INDArray a = Nd4j.create(DataType.FLOAT, R, w.size(1));
    INDArray b = Nd4j.create(DataType.FLOAT, w.size(0), R);
    init.initialize(a, b, s, site);
    return new INDArray[] {a, b, site.rewritten};
  }

  static INDArray term(SvdResult t) {
    return t.reconstruct();
  }

  @Test
  void pissaAdapterIsTheTopRSvdTermAndResidualRestoresW() {
    INDArray w = gaussian(OUT, IN, 1);
    double s = LoraConfig.scaling(R, 16, false); // alpha != r: s = 4
    INDArray[] abw = run(SvdInit.principal(), w, s);
    INDArray sBA = abw[1].mmul(abw[0]).muli(s); // [out, r] x [r, in]
    SvdResult full = Svd.exact(w);
    assertThat(relFrob(sBA, term(full.top(R)))).isLessThan(1e-5);
    assertThat(maxAbs(abw[2].add(sBA), w)).isLessThan(1e-5);
    // A = diag(sqrt(S_r / s)) Vh_r: rows orthogonal with A A^T = diag(S_r / s)
    INDArray gram = abw[0].mmul(abw[0].transpose()); // [r, in] x [in, r]
    INDArray expected = Nd4j.diag(full.top(R).s().div(s));
    assertThat(maxAbs(gram, expected)).isLessThan(1e-5);
    // and B^T B = diag(S_r / s) too (the split is balanced)
    assertThat(maxAbs(abw[1].transpose().mmul(abw[1]), expected)).isLessThan(1e-5);
  }

  @Test
  void miloraAdapterIsTheBottomRSvdTerm() {
    INDArray w = gaussian(OUT, IN, 2);
    double s = 0.5; // alpha = 2, r = 4
    INDArray[] abw = run(SvdInit.minor(), w, s);
    INDArray sBA = abw[1].mmul(abw[0]).muli(s);
    SvdResult full = Svd.exact(w); // 16 triplets
    SvdResult bottom = SvdInit.slice(full, R, SvdInit.Slice.MINOR);
    assertThat(bottom.s().toFloatVector()).containsExactly(
        full.s().getFloat(IN - 4), full.s().getFloat(IN - 3), full.s().getFloat(IN - 2), full.s().getFloat(IN - 1));
    assertThat(relFrob(sBA, term(bottom))).isLessThan(1e-5);
    assertThat(maxAbs(abw[2].add(sBA), w)).isLessThan(1e-5);
    // the residual is the top (IN - R) term
    assertThat(relFrob(abw[2], term(full.top(IN - R)))).isLessThan(1e-5);
  }

  @Test
  void randomizedPissaIsCloseToExactOnADecayingSpectrum() {
    INDArray w = withSpectrum(96, 64, geometric(64, 0.5), 3);
    INDArray termExact = term(run(SvdInit.principal(), w, 1.0));
    INDArray[] fast = run(new SvdInit(SvdInit.Slice.PRINCIPAL, SvdMethod.RANDOMIZED, 4), w, 1.0);
    // no oversampling: the error goes like (s_{r+1}/s_r)^(2 niter + 1) = 0.5^9 ~ 2e-3
    assertThat(relFrob(term(fast), termExact)).isLessThan(1e-2);
    // more subspace iterations, smaller error
    double coarse = relFrob(term(run(new SvdInit(SvdInit.Slice.PRINCIPAL, SvdMethod.RANDOMIZED, 1), w, 1.0)), termExact);
    double fine = relFrob(term(run(new SvdInit(SvdInit.Slice.PRINCIPAL, SvdMethod.RANDOMIZED, 8), w, 1.0)), termExact);
    assertThat(fine).isLessThan(coarse);
    // the reconstruction stays exact whatever the approximation
    assertThat(maxAbs(fast[2].add(term(fast)), w)).isLessThan(1e-5);
  }

  /** s B A of an init's result {a, b, base} with s = 1. */
  static INDArray term(INDArray[] abw) {
    return abw[1].mmul(abw[0]); // [out, r] x [r, in]
  }

  @Test
  void randomizedSvdIsRefusedForMilora() {
    assertThatThrownBy(() -> new SvdInit(SvdInit.Slice.MINOR, SvdMethod.RANDOMIZED, 4))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("randomized")
        .hasMessageContaining("smallest")
        .hasMessageContaining("exact");
    assertThatThrownBy(() -> new MiloraConfig(8, 8, 0, false, SvdMethod.RANDOMIZED, null))
        .hasMessageContaining("svd = randomized")
        .hasMessageContaining("accepted: exact");
    ConfigCodec codec = new ConfigCodec(AdapterRegistry.discover());
    assertThatThrownBy(() -> codec.fromYaml("type: milora\nsvd: randomized\n"))
        .hasMessageContaining("smallest");
  }

  @Test
  void configsReadFromYamlWithDefaults() {
    ConfigCodec codec = new ConfigCodec(AdapterRegistry.discover());
    assertThat(codec.fromYaml("type: pissa\nsvd: randomized\n"))
        .isEqualTo(PissaConfig.defaults().withRandomizedSvd(4));
    assertThat(codec.fromYaml("type: corda\nmethod: kpm\nrank: 16\nalpha: 16\n"))
        .isEqualTo(CordaConfig.defaults().withMethod(CordaInit.Mode.KPM).withRankAndAlpha(16, 16));
    assertThat(PissaConfig.defaults().rank()).isEqualTo(8);
    assertThat(PissaConfig.defaults().alpha()).isEqualTo(8);
    assertThat(MiloraConfig.defaults().alpha()).isEqualTo(MiloraConfig.defaults().rank());
    assertThatThrownBy(() -> codec.fromYaml("type: pissa\nniter: -1\n")).hasMessageContaining("niter = -1");
    assertThatThrownBy(() -> codec.fromYaml("type: corda\nmethod: middle\n")).hasMessageContaining("accepted ipm, kpm");
  }
}
