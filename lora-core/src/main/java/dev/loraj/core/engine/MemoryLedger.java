package dev.loraj.core.engine;

import java.util.Collections;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import org.nd4j.linalg.api.buffer.DataBuffer;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * What a training run holds, in bytes per category, counted from the arrays themselves: each
 * engine part (the model's weights, quantized weights, the trainer's gradients and optimizer
 * state, the replay plan's working arrays, the dequantization buffers) adds the arrays it holds,
 * and an allocation reached from several parts (a view, a graph constant that is a base weight)
 * counts once, in the category that added it first.
 *
 * <p>Native arrays are keyed by their allocation (the root buffer of a view, by address), Java
 * arrays (the packed codes of a quantized weight) by identity. Nothing is inferred from a
 * formula: an array nobody reports is not counted, and garbage that waits for collection is not
 * held by anyone, so it is not counted either (the process's resident set, reported beside the
 * ledger, sees it).
 */
public final class MemoryLedger {

  /** Where bytes belong. */
  public enum Category {
    /** Dense frozen weights, adapter buffers, frozen graph constants. */
    FROZEN,
    /** Packed codes, block scales and double-quantization state of quantized weights. */
    QUANTIZED,
    /** Parameters the optimizer updates. */
    TRAINABLE,
    /** One gradient per trainable parameter, as the step holds them. */
    GRADIENTS,
    /** Optimizer state (Adam's moments). */
    OPTIMIZER,
    /** The step's working set: saved forward outputs, intermediate buffers, dequantization buffers. */
    ACTIVATIONS,
    /** Data, inference caches and anything else a part reports. */
    OTHER;

    /** The lower-case name used in records and JSON. */
    public String id() {
      return name().toLowerCase(Locale.ROOT);
    }
  }

  private final EnumMap<Category, Long> bytes = new EnumMap<>(Category.class);
  private final Map<Long, Long> nativeSeen = new HashMap<>();
  private final Map<Object, Boolean> heapSeen = new IdentityHashMap<>();

  public MemoryLedger() {
    for (Category c : Category.values()) {
      bytes.put(c, 0L);
    }
  }

  /** Counts {@code array}'s allocation under {@code c} unless it was counted already; null is ignored. */
  public MemoryLedger add(Category c, INDArray array) {
    if (array == null || array.isEmpty() || array.wasClosed()) {
      return this;
    }
    DataBuffer root = array.data();
    while (root.originalDataBuffer() != null && root.originalDataBuffer() != root) {
      root = root.originalDataBuffer();
    }
    long size = root.length() * root.getElementSize();
    long address = root.address();
    Long before = nativeSeen.get(address);
    if (before == null) {
      nativeSeen.put(address, size);
      bytes.merge(c, size, Long::sum);
    } else if (size > before) {
      // a larger allocation at the same address (a view's root seen first through its parent
      // cannot be smaller): count the difference where it is first seen larger
      nativeSeen.put(address, size);
      bytes.merge(c, size - before, Long::sum);
    }
    return this;
  }

  /** Counts every array of {@code arrays} under {@code c}. */
  public MemoryLedger addAll(Category c, Iterable<? extends INDArray> arrays) {
    for (INDArray a : arrays) {
      add(c, a);
    }
    return this;
  }

  /**
   * Counts a Java heap array (byte[], float[], ...) of {@code sizeBytes} under {@code c}, once
   * per object identity; null is ignored.
   */
  public MemoryLedger addHeap(Category c, Object javaArray, long sizeBytes) {
    if (javaArray != null && heapSeen.put(javaArray, Boolean.TRUE) == null) {
      bytes.merge(c, sizeBytes, Long::sum);
    }
    return this;
  }

  /**
   * Adds {@code sizeBytes} under {@code c} as they are: for a part that counted its own arrays
   * (de-duplicated) at a moment when it held them, e.g. the gradients of the last step.
   */
  public MemoryLedger addCounted(Category c, long sizeBytes) {
    if (sizeBytes < 0) {
      throw new IllegalArgumentException("sizeBytes: " + sizeBytes + ", expected >= 0");
    }
    bytes.merge(c, sizeBytes, Long::sum);
    return this;
  }

  /** Bytes counted under {@code c}. */
  public long bytes(Category c) {
    return bytes.get(c);
  }

  /** Bytes of every category. */
  public long total() {
    return bytes.values().stream().mapToLong(Long::longValue).sum();
  }

  /** Bytes by category id ({@link Category#id()}), in the categories' order. */
  public Map<String, Long> byId() {
    Map<String, Long> m = new LinkedHashMap<>();
    bytes.forEach((k, v) -> m.put(k.id(), v));
    return Collections.unmodifiableMap(m);
  }

  @Override
  public String toString() {
    StringBuilder sb = new StringBuilder();
    bytes.forEach((k, v) -> sb.append(String.format(Locale.ROOT, "%s %.1f MiB, ", k.id(), v / 1048576.0)));
    return sb.append(String.format(Locale.ROOT, "total %.1f MiB", total() / 1048576.0)).toString();
  }
}
