package dev.loraj.eval.metrics;

import java.util.LinkedHashMap;
import java.util.Map;

/** Accuracy and macro-F1 from predicted and true labels. */
public final class ClassificationMetrics {
  private ClassificationMetrics() {}

  public static Map<String, Double> compute(int[] predicted, int[] truth, int classes) {
    if (predicted.length != truth.length || truth.length == 0) {
      throw new IllegalArgumentException("need equal, non-empty prediction and label arrays");
    }
    long[] tp = new long[classes];
    long[] fp = new long[classes];
    long[] fn = new long[classes];
    long correct = 0;
    for (int i = 0; i < truth.length; i++) {
      if (predicted[i] == truth[i]) {
        correct++;
        tp[truth[i]]++;
      } else {
        fp[predicted[i]]++;
        fn[truth[i]]++;
      }
    }
    double f1Sum = 0;
    for (int c = 0; c < classes; c++) {
      double denom = 2.0 * tp[c] + fp[c] + fn[c];
      f1Sum += denom == 0 ? 0 : 2.0 * tp[c] / denom;
    }
    Map<String, Double> m = new LinkedHashMap<>();
    m.put("accuracy", (double) correct / truth.length);
    m.put("macro_f1", f1Sum / classes);
    return m;
  }
}
