package dev.loraj.variants.rslora;

import dev.loraj.core.testing.ExactArrays;
import static dev.loraj.variants.Fixtures.maxAbsDiff;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import dev.loraj.core.lora.LoraAdapter;
import dev.loraj.core.lora.LoraConfig;
import dev.loraj.core.model.MlpModel;
import dev.loraj.core.model.PeftModel;
import dev.loraj.variants.Fixtures;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/** rsLoRA's scaling gamma_r = alpha / sqrt(r) (arXiv 2312.03732, section 3). */
class RsLoraTest {

  @Test
  void scalingIsAlphaOverSqrtRank() {
    assertThat(RsLora.Config.defaults().scaling()).isCloseTo(8 / Math.sqrt(8), within(1e-12));
    RsLora.Config c = RsLora.Config.defaults().withRankAndAlpha(16, 8);
    assertThat(c.scaling()).isEqualTo(2.0); // 8 / sqrt(16), where LoRA would give 8 / 16
    PeftModel pm = Fixtures.peft(Fixtures.oneLayer(20, 18, 1), c, 3);
    LoraAdapter ad = Fixtures.site(pm, "default");
    assertThat(ad.scaling()).isEqualTo(2.0);
  }

  @Test
  void forwardAddsAlphaOverSqrtRTimesBAx() {
    // rank 2, alpha 3 -> s = 3 / sqrt 2 (LoRA would give 1.5); W = I, bias 0
    float[][] eye = {{1, 0}, {0, 1}};
    PeftModel pm = Fixtures.peft(Fixtures.oneLayer(eye, new float[] {0, 0}),
        RsLora.Config.defaults().withRankAndAlpha(2, 3), 3);
    LoraAdapter ad = Fixtures.site(pm, "default");
    ad.a().assign(Nd4j.createFromArray(new float[][] {{1, 0}, {1, 1}}));
    ad.b().assign(Nd4j.createFromArray(new float[][] {{1, 0}, {0, 2}}));
    // s = 3 / sqrt 2; B A = [[1, 0], [2, 2]]; x = [1, 2] -> B A x = [1, 6]
    double s = 3 / Math.sqrt(2);
    INDArray y = pm.output(Fixtures.x(new float[][] {{1, 2}}));
    assertThat(y.toDoubleVector()).containsExactly(new double[] {1 + s, 2 + 6 * s}, within(1e-5));
  }

  @Test
  void sameModelAsLoraWithUseRslora() {
    MlpModel base = Fixtures.oneLayer(10, 7, 2);
    PeftModel rs = Fixtures.peft(base, RsLora.Config.defaults().withRankAndAlpha(4, 6), 5);
    PeftModel lora = Fixtures.peft(base, LoraConfig.of(4, 6).withRslora(true), 5);
    LoraAdapter a = Fixtures.site(rs, "default");
    LoraAdapter b = Fixtures.site(lora, "default");
    ExactArrays.assertBitIdentical(a.a(), b.a(), "a.a()"); // same init stream
    a.b().assign(1.25);
    b.b().assign(1.25);
    assertThat(maxAbsDiff(a.deltaWeight(), b.deltaWeight())).isEqualTo(0.0);
  }
}
