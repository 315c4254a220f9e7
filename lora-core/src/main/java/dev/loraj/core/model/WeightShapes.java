package dev.loraj.core.model;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import org.nd4j.linalg.api.ndarray.INDArray;

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
    for (Map.Entry<String, long[]> e : shapes.entrySet()) {
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
}
