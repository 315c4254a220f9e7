package dev.loraj.core.graph;

import java.util.List;
import org.nd4j.linalg.api.ndarray.INDArray;

/** Receives the time of every op a replay plan runs ({@link ReplayCache#profile}). */
public interface OpTimer {
  /**
   * @param opName libnd4j's (or the Java kernel's) op name
   * @param inputs the op's input arrays
   * @param iArgs its integer arguments (empty for legacy ops)
   * @param output its first output
   * @param nanos time inside the op
   */
  void op(String opName, List<INDArray> inputs, List<Long> iArgs, INDArray output, long nanos);
}
