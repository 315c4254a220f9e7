package dev.loraj.bench.step;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.nd4j.autodiff.listeners.At;
import org.nd4j.autodiff.listeners.BaseListener;
import org.nd4j.autodiff.listeners.Operation;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.autodiff.samediff.internal.SameDiffOp;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.OpContext;
import org.nd4j.linalg.dataset.api.MultiDataSet;

/**
 * Wall time per SameDiff op, summed over the steps it listens to: by op name (matmul, add,
 * matmul_bp, ...) and by op name and output shape. The time between a listener's pre- and
 * post-execution callbacks includes SameDiff's per-op bookkeeping for that op but not the
 * scheduling between ops; {@link #covered} against the step time says how much is outside ops.
 */
public final class OpProfile extends BaseListener {

  /** Total nanoseconds and calls of one key. */
  public record Entry(String key, long nanos, long calls) {}

  private final Map<String, long[]> byOp = new HashMap<>();
  private final Map<String, long[]> byShape = new HashMap<>();
  private long start;

  @Override
  public boolean isActive(Operation operation) {
    return true;
  }

  @Override
  public void preOpExecution(SameDiff sd, At at, SameDiffOp op, OpContext ctx) {
    start = System.nanoTime();
  }

  @Override
  public void opExecution(SameDiff sd, At at, MultiDataSet batch, SameDiffOp op, OpContext ctx,
      INDArray[] outputs) {
    long t = System.nanoTime() - start;
    String name = op.getOp().opName();
    add(byOp, name, t);
    String shape = outputs == null || outputs.length == 0 || outputs[0] == null ? "[]"
        : Arrays.toString(outputs[0].shape());
    add(byShape, name + " " + shape, t);
  }

  private static void add(Map<String, long[]> m, String k, long t) {
    long[] v = m.computeIfAbsent(k, x -> new long[2]);
    v[0] += t;
    v[1]++;
  }

  /** Entries by op name, most expensive first. */
  public List<Entry> byOp() {
    return sorted(byOp);
  }

  /** Entries by op name and first output's shape, most expensive first. */
  public List<Entry> byOpAndShape() {
    return sorted(byShape);
  }

  /** Nanoseconds inside ops, all together. */
  public long covered() {
    return byOp.values().stream().mapToLong(v -> v[0]).sum();
  }

  private static List<Entry> sorted(Map<String, long[]> m) {
    List<Entry> out = new ArrayList<>();
    m.forEach((k, v) -> out.add(new Entry(k, v[0], v[1])));
    out.sort((a, b) -> Long.compare(b.nanos(), a.nanos()));
    return out;
  }

  /** A text table of the top {@code n} of each view, in ms per step over {@code steps} steps. */
  public String table(int steps, int n, double stepMs) {
    StringBuilder sb = new StringBuilder();
    double inOps = covered() / 1e6 / steps;
    sb.append(String.format(Locale.ROOT, "ops: %.1f ms of %.1f ms per step (%.0f%%); %d op kinds%n",
        inOps, stepMs, 100 * inOps / stepMs, byOp.size()));
    sb.append("  by op:\n");
    append(sb, byOp(), steps, n, inOps);
    sb.append("  by op and output shape:\n");
    append(sb, byOpAndShape(), steps, n, inOps);
    return sb.toString();
  }

  private static void append(StringBuilder sb, List<Entry> es, int steps, int n, double inOps) {
    for (Entry e : es.subList(0, Math.min(n, es.size()))) {
      double ms = e.nanos() / 1e6 / steps;
      sb.append(String.format(Locale.ROOT, "    %8.1f ms %5.1f%% %6d calls  %s%n", ms, 100 * ms / inOps,
          e.calls() / steps, e.key()));
    }
  }
}
