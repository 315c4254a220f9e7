package dev.loraj.core.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.loraj.core.adapter.AdapterRegistry;
import dev.loraj.core.lora.Fill;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.ops.transforms.Transforms;

/** {@link PeftModel#calibrate}: per-site mean x^T x over all calibration rows. */
class CalibrationTest {

  static INDArray normal(long rows, long cols, long seed) {
    return Fill.normal(new long[] {rows, cols}, 1.0, new SplittableRandom(seed));
  }

  @Test
  void covarianceIsMeanOuterProductOfEachSitesInputs() {
    MlpModel base = MlpModel.random(List.of(6, 5, 3), MlpModel.Activation.RELU, false, 3);
    PeftModel pm = new PeftModel(base, AdapterRegistry.discover());
    INDArray x1 = normal(4, 6, 1);
    INDArray x2 = normal(7, 6, 2);
    pm.calibrate(List.of(Map.of("x", x1), Map.of("x", x2, "targets", normal(7, 3, 9))));

    INDArray x = Nd4j.vstack(x1, x2); // [11, 6]
    INDArray expected0 = x.transpose().mmul(x).divi(11); // [6, 6]
    INDArray w0 = base.weights().get("layers.0.weight"); // [5, 6]
    INDArray h = Transforms.relu(x.mmul(w0.transpose()).addiRowVector(base.weights().get("layers.0.bias")), true);
    INDArray expected1 = h.transpose().mmul(h).divi(11); // [5, 5]

    assertThat(pm.inputCovariance("layers.0")).isPresent();
    assertThat(pm.inputCovariance("layers.0").get().sub(expected0).amaxNumber().doubleValue()).isLessThan(1e-5);
    assertThat(pm.inputCovariance("layers.1").get().sub(expected1).amaxNumber().doubleValue()).isLessThan(1e-5);

    pm.clearCalibration();
    assertThat(pm.inputCovariance("layers.0")).isEmpty();
  }

  @Test
  void noBatchesIsAnError() {
    PeftModel pm = new PeftModel(MlpModel.random(List.of(4, 3), MlpModel.Activation.NONE, false, 1), AdapterRegistry.discover());
    assertThatThrownBy(() -> pm.calibrate(List.of())).hasMessageContaining("at least one batch");
  }
}
