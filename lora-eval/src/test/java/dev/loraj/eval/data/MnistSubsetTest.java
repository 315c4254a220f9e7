package dev.loraj.eval.data;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Arrays;
import java.util.HashSet;
import java.util.Set;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.ndarray.INDArray;

class MnistSubsetTest {

  static final MnistSubset DATA = MnistSubset.load();

  @Test
  void cardRecordsSourceLicenceAndTheFileHash() {
    DatasetCard card = DATA.card();
    assertThat(card.id()).isEqualTo("mnist-subset");
    assertThat(card.sources()).singleElement().satisfies(s -> {
      assertThat(s.packageName()).isEqualTo("mnist");
      assertThat(s.version()).isEqualTo("1.1.0");
      assertThat(s.codeLicence()).isEqualTo("MIT");
      assertThat(s.tarballSha256()).hasSize(64);
    });
    assertThat(card.licence()).contains("MIT", "LeCun");
    assertThat(card.derivation().script()).isEqualTo("scripts/data/make_mnist.py");
    assertThat(DATA.sha256()).isEqualTo(card.sha256());
  }

  @Test
  void tenThousandDigitsWithTheCardsCounts() {
    assertThat(DATA.size()).isEqualTo(10_000);
    int[] counts = new int[10];
    for (int i = 0; i < DATA.size(); i++) {
      counts[DATA.label(i)]++;
    }
    // the package's digits/<k>.json sizes
    assertThat(counts).containsExactly(1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978);
    INDArray x = DATA.images(new int[] {0, 9999});
    assertThat(x.shape()).containsExactly(2L, 784L);
    assertThat(x.minNumber().doubleValue()).isEqualTo(0.0);
    assertThat(x.maxNumber().doubleValue()).isEqualTo(1.0);
    // a digit has ink on 10-30% of its pixels, and none in the corners
    long ink = IntStream.range(0, 784).filter(p -> DATA.pixel(0, p) > 0).count();
    assertThat(ink).isBetween(60L, 300L);
    assertThat(DATA.pixel(0, 0)).isZero();
    assertThat(DATA.oneHot(new int[] {0, 9999}).toDoubleMatrix()[1][9]).isEqualTo(1.0);
  }

  @Test
  void splitIsDisjointStratifiedAndDeterministic() {
    MnistSubset.Split s = DATA.defaultSplit();
    assertThat(s.train()).hasSize(8000);
    assertThat(s.test()).hasSize(2000);
    Set<Integer> all = new HashSet<>();
    Arrays.stream(s.train()).forEach(all::add);
    Arrays.stream(s.test()).forEach(all::add);
    assertThat(all).hasSize(10_000);
    int[] perDigit = new int[10];
    for (int i : s.test()) {
      perDigit[DATA.label(i)]++;
    }
    assertThat(perDigit[1]).isBetween(225, 226); // 1127 * 0.2
    assertThat(perDigit[5]).isBetween(172, 173); // 863 * 0.2
    assertThat(DATA.split(2000, 0).test()).containsExactly(s.test());
    assertThat(DATA.split(2000, 1).test()).isNotEqualTo(s.test());
    assertThatThrownBy(() -> DATA.split(0, 0)).hasMessageContaining("nTest = 0");
  }

  /** Labels belong to their images: a nearest-class-mean classifier is far above chance (10%). */
  @Test
  void nearestClassMeanSeparatesTheDigits() {
    MnistSubset.Split s = DATA.defaultSplit();
    double[][] mean = new double[10][784];
    int[] n = new int[10];
    for (int i : s.train()) {
      int k = DATA.label(i);
      n[k]++;
      for (int p = 0; p < 784; p++) {
        mean[k][p] += DATA.pixel(i, p);
      }
    }
    int correct = 0;
    for (int i : s.test()) {
      int best = -1;
      double bestDist = Double.MAX_VALUE;
      for (int k = 0; k < 10; k++) {
        double dist = 0;
        for (int p = 0; p < 784; p++) {
          double diff = DATA.pixel(i, p) - mean[k][p] / n[k];
          dist += diff * diff;
        }
        if (dist < bestDist) {
          bestDist = dist;
          best = k;
        }
      }
      correct += best == DATA.label(i) ? 1 : 0;
    }
    assertThat(correct / 2000.0).isGreaterThan(0.75); // MNIST's class-mean accuracy is about 0.82
  }
}
