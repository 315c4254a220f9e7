package dev.loraj.eval.data;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A difficulty probe for the shipped data sets: tf-idf bag of words (unigrams and bigrams seen in
 * at least two training texts, sublinear tf, L2-normalised) fed to (a) multinomial logistic
 * regression trained by seeded SGD with L2 weight decay and (b) a nearest-centroid classifier
 * (cosine). Test accuracy tells how much a lexical model already solves; a task a linear model
 * on word counts solves at 99% cannot separate adaptation methods.
 */
final class BagOfWordsBaseline {

  private static final Pattern TOKEN = Pattern.compile("[a-z0-9]+(?:'[a-z]+)?");

  /** Test accuracies and the vocabulary size. */
  record Result(double logisticAccuracy, double centroidAccuracy, int vocabulary) {}

  /** A sparse, L2-normalised document vector. */
  private record Sparse(int[] index, float[] value) {}

  private BagOfWordsBaseline() {}

  static Result evaluate(TextClassificationDataset ds, long seed) {
    return evaluate(ds, seed, 1e-5, 30);
  }

  /** As {@link #evaluate(TextClassificationDataset, long)} with the L2 strength and epochs given. */
  static Result evaluate(TextClassificationDataset ds, long seed, double lambda, int epochs) {
    Map<String, Integer> vocab = vocabulary(ds.train());
    float[] idf = idf(ds.train(), vocab);
    List<Sparse> train = new ArrayList<>();
    ds.train().forEach(e -> train.add(vector(e.text(), vocab, idf)));
    List<Sparse> test = new ArrayList<>();
    ds.test().forEach(e -> test.add(vector(e.text(), vocab, idf)));
    int[] yTrain = ds.train().stream().mapToInt(TextExample::label).toArray();
    int[] yTest = ds.test().stream().mapToInt(TextExample::label).toArray();
    int k = ds.numLabels();
    int v = vocab.size();

    float[][] w = logistic(train, yTrain, k, v, seed, lambda, epochs);
    float[][] centroids = centroids(train, yTrain, k, v);
    int correctLr = 0;
    int correctNc = 0;
    for (int i = 0; i < test.size(); i++) {
      correctLr += argmax(scores(w, test.get(i))) == yTest[i] ? 1 : 0;
      correctNc += argmax(scores(centroids, test.get(i))) == yTest[i] ? 1 : 0;
    }
    return new Result((double) correctLr / test.size(), (double) correctNc / test.size(), v);
  }

  private static List<String> terms(String text) {
    List<String> words = new ArrayList<>();
    Matcher m = TOKEN.matcher(text.toLowerCase(Locale.ROOT));
    while (m.find()) {
      words.add(m.group());
    }
    List<String> out = new ArrayList<>(words);
    for (int i = 1; i < words.size(); i++) {
      out.add(words.get(i - 1) + " " + words.get(i));
    }
    return out;
  }

  private static Map<String, Integer> vocabulary(List<TextExample> train) {
    Map<String, Integer> df = new TreeMap<>();
    for (TextExample e : train) {
      terms(e.text()).stream().distinct().forEach(t -> df.merge(t, 1, Integer::sum));
    }
    Map<String, Integer> vocab = new HashMap<>();
    df.forEach((term, n) -> {
      if (n >= 2) {
        vocab.put(term, vocab.size());
      }
    });
    return vocab;
  }

  private static float[] idf(List<TextExample> train, Map<String, Integer> vocab) {
    float[] df = new float[vocab.size()];
    for (TextExample e : train) {
      terms(e.text()).stream().distinct().map(vocab::get)
          .filter(j -> j != null).forEach(j -> df[j]++);
    }
    float[] idf = new float[df.length];
    for (int j = 0; j < df.length; j++) {
      idf[j] = (float) Math.log((1.0 + train.size()) / (1.0 + df[j])) + 1f;
    }
    return idf;
  }

  private static Sparse vector(String text, Map<String, Integer> vocab, float[] idf) {
    Map<Integer, Integer> tf = new TreeMap<>();
    for (String t : terms(text)) {
      Integer j = vocab.get(t);
      if (j != null) {
        tf.merge(j, 1, Integer::sum);
      }
    }
    int[] index = new int[tf.size()];
    float[] value = new float[tf.size()];
    double norm = 0;
    int at = 0;
    for (Map.Entry<Integer, Integer> entry : tf.entrySet()) {
      index[at] = entry.getKey();
      value[at] = (float) ((1 + Math.log(entry.getValue())) * idf[entry.getKey()]);
      norm += value[at] * value[at];
      at++;
    }
    float inv = norm > 0 ? (float) (1 / Math.sqrt(norm)) : 0f;
    for (int i = 0; i < value.length; i++) {
      value[i] *= inv;
    }
    return new Sparse(index, value);
  }

  /** Multinomial logistic regression; row k of the result is class k's weights, last column bias. */
  private static float[][] logistic(
      List<Sparse> x, int[] y, int k, int v, long seed, double lambda, int epochs) {
    float[][] w = new float[k][v + 1];
    SplittableRandom random = new SplittableRandom(seed);
    int[] order = new int[x.size()];
    for (int i = 0; i < order.length; i++) {
      order[i] = i;
    }
    for (int epoch = 0; epoch < epochs; epoch++) {
      for (int i = order.length - 1; i > 0; i--) {
        int j = random.nextInt(i + 1);
        int tmp = order[i];
        order[i] = order[j];
        order[j] = tmp;
      }
      float lr = (float) (2.0 / (1.0 + 0.2 * epoch));
      for (int i : order) {
        Sparse doc = x.get(i);
        float[] p = softmax(scores(w, doc));
        for (int c = 0; c < k; c++) {
          float g = p[c] - (y[i] == c ? 1f : 0f);
          float[] row = w[c];
          for (int n = 0; n < doc.index().length; n++) {
            int j = doc.index()[n];
            // Weight decay on the features this document touches (lazy L2).
            row[j] -= lr * (g * doc.value()[n] + (float) lambda * row[j]);
          }
          row[v] -= lr * g;
        }
      }
    }
    return w;
  }

  private static float[][] centroids(List<Sparse> x, int[] y, int k, int v) {
    float[][] c = new float[k][v + 1];
    for (int i = 0; i < x.size(); i++) {
      Sparse doc = x.get(i);
      for (int n = 0; n < doc.index().length; n++) {
        c[y[i]][doc.index()[n]] += doc.value()[n];
      }
    }
    for (float[] row : c) {
      double norm = 0;
      for (int j = 0; j < v; j++) {
        norm += row[j] * row[j];
      }
      float inv = norm > 0 ? (float) (1 / Math.sqrt(norm)) : 0f;
      for (int j = 0; j < v; j++) {
        row[j] *= inv;
      }
    }
    return c;
  }

  private static float[] scores(float[][] w, Sparse doc) {
    float[] s = new float[w.length];
    int bias = w[0].length - 1;
    for (int c = 0; c < w.length; c++) {
      float sum = w[c][bias];
      for (int n = 0; n < doc.index().length; n++) {
        sum += w[c][doc.index()[n]] * doc.value()[n];
      }
      s[c] = sum;
    }
    return s;
  }

  private static float[] softmax(float[] s) {
    float max = Float.NEGATIVE_INFINITY;
    for (float x : s) {
      max = Math.max(max, x);
    }
    float sum = 0;
    float[] p = new float[s.length];
    for (int c = 0; c < s.length; c++) {
      p[c] = (float) Math.exp(s[c] - max);
      sum += p[c];
    }
    for (int c = 0; c < s.length; c++) {
      p[c] /= sum;
    }
    return p;
  }

  private static int argmax(float[] s) {
    int best = 0;
    for (int c = 1; c < s.length; c++) {
      if (s[c] > s[best]) {
        best = c;
      }
    }
    return best;
  }
}
