package dev.loraj.core.graph;

import java.io.OutputStream;
import java.io.PrintStream;
import java.util.Collection;
import java.util.Map;
import java.util.function.Supplier;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.autodiff.samediff.array.SingleThreadArrayHolder;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/** SameDiff set-up and execution with the engine settings of ARCHITECTURE.md. */
public final class Graphs {
  private Graphs() {}

  private static final Object STDOUT_LOCK = new Object();

  /**
   * A SameDiff whose constants and variables are stored once: the default holders keep an
   * extra copy of every array, doubling the memory of the frozen base.
   */
  public static SameDiff newSameDiff() {
    SameDiff sd = SameDiff.create();
    sd.setArrayHolders(new SingleThreadArrayHolder(), new SingleThreadArrayHolder(), false);
    return sd;
  }

  /** Runs the graph and returns one output (detached from any workspace). */
  public static INDArray output(SameDiff sd, Map<String, INDArray> placeholders, String output) {
    return sd.output(placeholders, output).get(output);
  }

  /**
   * Runs {@code action} with System.out silenced: SameDiff M2.1 prints "Added differentiated op"
   * for every op when it builds a gradient function (a hard-coded println).
   */
  public static <T> T quietly(Supplier<T> action) {
    synchronized (STDOUT_LOCK) {
      PrintStream original = System.out;
      System.setOut(new PrintStream(OutputStream.nullOutputStream()));
      try {
        return action.get();
      } finally {
        System.setOut(original);
      }
    }
  }

  /** Creates the gradient function (quietly) for the given placeholders' graph. */
  public static void createGradFunction(SameDiff sd, Collection<String> alsoPlaceholders) {
    quietly(() -> {
      if (alsoPlaceholders.isEmpty()) {
        sd.createGradFunction();
      } else {
        sd.createGradFunction(alsoPlaceholders.toArray(String[]::new));
      }
      return null;
    });
  }

  public static boolean allFinite(INDArray a) {
    return !a.isNaN().any() && !a.isInfinite().any();
  }

  public static boolean isFinite(double v) {
    return !Double.isNaN(v) && !Double.isInfinite(v);
  }

  /** A float scalar. */
  public static INDArray scalar(double v) {
    return Nd4j.scalar((float) v);
  }
}
