package dev.loraj.core.graph;

import java.lang.reflect.Field;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import org.nd4j.imports.converters.DifferentialFunctionClassHolder;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Replaces the Java class ND4J maps to a native op. SameDiff builds its gradient graph from clones
 * of the ops, re-created from the op's native hash and name, so a different derivative has to be
 * registered here rather than only subclassed (see {@link FrozenMatMul}).
 */
final class OpOverrides {
  private OpOverrides() {}

  private static final Set<String> DONE = new HashSet<>();

  /** Maps {@code nativeOpName} to {@code replacement} (idempotent). */
  @SuppressWarnings("unchecked")
  static synchronized void register(String nativeOpName, Class<?> replacement) {
    if (!DONE.add(nativeOpName)) {
      return;
    }
    try {
      DifferentialFunctionClassHolder holder = DifferentialFunctionClassHolder.getInstance();
      long hash = Nd4j.getExecutioner().getCustomOperations().get(nativeOpName).getHash();
      Field single = DifferentialFunctionClassHolder.class.getDeclaredField("customOpHashToClass");
      single.setAccessible(true);
      ((Map<Long, Class<?>>) single.get(holder)).put(hash, replacement);
      Field multi = DifferentialFunctionClassHolder.class.getDeclaredField("customOpHashToClasses");
      multi.setAccessible(true);
      Map<String, Class<?>> byName = ((Map<Long, Map<String, Class<?>>>) multi.get(holder)).get(hash);
      if (byName != null) {
        byName.put(nativeOpName, replacement);
      }
    } catch (ReflectiveOperationException e) {
      throw new IllegalStateException("cannot register " + replacement.getName() + " for ND4J op " + nativeOpName, e);
    }
  }

  /** Whether an op's integer arguments end with {@code marker} (how a clone stays frozen). */
  static boolean endsWith(long[] iArgs, long marker) {
    return iArgs != null && iArgs.length > 0 && iArgs[iArgs.length - 1] == marker;
  }
}
