package dev.loraj.eval.data;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The labels of every shipped data set are learnable from the words alone: a tf-idf logistic
 * regression beats chance by a clear margin. Prints the accuracies reported in
 * {@code datasets/README.md} (seed 42).
 */
class BagOfWordsBaselineTest {

  static java.util.List<String> ids() {
    return TextClassificationDataset.available();
  }

  @ParameterizedTest
  @MethodSource("ids")
  void bagOfWordsBeatsChance(String id) {
    TextClassificationDataset ds = TextClassificationDataset.load(id);
    BagOfWordsBaseline.Result r = BagOfWordsBaseline.evaluate(ds, 42L);
    System.out.printf("baseline %-10s tfidf-logreg %.3f  nearest-centroid %.3f  vocab %d%n",
        id, r.logisticAccuracy(), r.centroidAccuracy(), r.vocabulary());
    double chance = 1.0 / ds.numLabels();
    assertThat(r.logisticAccuracy()).isGreaterThan(chance + 0.1);
    assertThat(r.centroidAccuracy()).isGreaterThan(chance + 0.05);
  }
}
