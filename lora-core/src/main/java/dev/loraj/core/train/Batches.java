package dev.loraj.core.train;

import java.util.Map;
import org.nd4j.linalg.api.ndarray.INDArray;

/** Supplies the placeholder values of micro-batch {@code micro} of 1-based optimizer {@code step}. */
@FunctionalInterface
public interface Batches {
  Map<String, INDArray> get(long step, int micro);
}
