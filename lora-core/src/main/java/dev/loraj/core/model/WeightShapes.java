package dev.loraj.core.model;

import dev.loraj.core.lora.Fill;
import dev.loraj.core.quant.QuantizedWeight;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * The weights a model family expects, with their shapes: checked once when a model is built, so
 * that a wrong checkpoint fails with the key and both shapes instead of deep inside a graph.
 */
public final class WeightShapes {

  private final String family;
  private final Map<String, long[]> shapes = new LinkedHashMap<>();

  public WeightShapes(String family) {
    this.family = family;
  }

  public WeightShapes put(String name, long... shape) {
    shapes.put(name, shape.clone());
    return this;
  }

  /** Expected names and shapes, in model order. */
  public Map<String, long[]> shapes() {
    return java.util.Collections.unmodifiableMap(shapes);
  }

  /** Throws naming the first missing key or the first shape mismatch (both shapes). */
  public void check(Map<String, INDArray> weights) {
    check(weights, Map.of());
  }

  /**
   * As {@link #check(Map)}, where a weight may instead be held in {@code held} (quantized or
   * 16-bit, [out, in] whatever the stored layout, so only its element count is compared).
   */
  public void check(Map<String, INDArray> weights, Map<String, QuantizedWeight> held) {
    for (Map.Entry<String, long[]> e : shapes.entrySet()) {
      QuantizedWeight q = held.get(e.getKey());
      if (q != null) {
        long expected = Arrays.stream(e.getValue()).reduce(1, Math::multiplyExact);
        if (e.getValue().length != 2 || (long) q.rows() * q.cols() != expected) {
          throw new IllegalArgumentException(
              family + " weight '" + e.getKey() + "' is held as " + q + ", the config implies "
                  + Arrays.toString(e.getValue()));
        }
        continue;
      }
      INDArray a = weights.get(e.getKey());
      if (a == null) {
        throw new IllegalArgumentException(
            family + " checkpoint has no weight '" + e.getKey() + "' (expected shape "
                + Arrays.toString(e.getValue()) + ")");
      }
      if (!Arrays.equals(a.shape(), e.getValue())) {
        throw new IllegalArgumentException(
            family + " weight '" + e.getKey() + "' has shape " + Arrays.toString(a.shape())
                + ", the config implies " + Arrays.toString(e.getValue()));
      }
    }
  }

  /** How transformers initialises a weight of a fresh model. */
  public enum Init {
    /** Biases. */
    ZERO,
    /** Norm gains (LayerNorm, RMSNorm). */
    ONE,
    /** Linear weights and embeddings: N(0, initializer_range^2). */
    NORMAL
  }

  /**
   * The initialisation of weight {@code name}: every {@code *.bias} 0, every norm gain (a name
   * containing "norm", any case) 1, everything else normal.
   */
  public static Init initOf(String name) {
    if (name.endsWith(".bias")) {
      return Init.ZERO;
    }
    return name.toLowerCase(Locale.ROOT).contains("norm") ? Init.ONE : Init.NORMAL;
  }

  /**
   * Freshly initialised weights of these shapes, as transformers' {@code _init_weights} does for
   * BERT and Llama: every {@code *.bias} 0, every norm gain (a {@code *.weight} whose name
   * contains "norm", any case: LayerNorm, RMSNorm) 1, everything else (linear weights,
   * embeddings) ~ N(0, std^2). For benchmarks and tests of randomly initialised models.
   *
   * @param std transformers' {@code initializer_range} (0.02 for BERT and Llama)
   * @param seed fixes every number (tensors are drawn in this object's order)
   */
  public Map<String, INDArray> randomInit(double std, long seed) {
    if (!(std >= 0)) {
      throw new IllegalArgumentException("std = " + std + ": must be >= 0");
    }
    SplittableRandom rnd = new SplittableRandom(seed);
    Map<String, INDArray> w = new LinkedHashMap<>();
    for (Map.Entry<String, long[]> e : shapes.entrySet()) {
      String name = e.getKey();
      INDArray a = switch (initOf(name)) {
        case ZERO -> Nd4j.zeros(DataType.FLOAT, e.getValue());
        case ONE -> Nd4j.ones(DataType.FLOAT, e.getValue());
        case NORMAL -> Fill.normal(e.getValue(), std, rnd);
      };
      w.put(name, a);
    }
    return w;
  }
}
