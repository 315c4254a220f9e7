package dev.loraj.bench.step;

import dev.loraj.core.graph.OpTimer;
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
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.OpContext;
import org.nd4j.linalg.dataset.api.MultiDataSet;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Wall time per SameDiff op, summed over the steps it listens to: by op name (matmul, add,
 * matmul_bp, ...) and by op name and output shape. The time between a listener's pre- and
 * post-execution callbacks includes SameDiff's per-op bookkeeping for that op but not the
 * scheduling between ops; {@link #covered} against the step time says how much is outside ops.
 */
public final class OpProfile extends BaseListener implements OpTimer {

  /** Total nanoseconds and calls of one key. */
  public record Entry(String key, long nanos, long calls) {}

  private final Map<String, long[]> byOp = new HashMap<>();
  private final Map<String, long[]> byShape = new HashMap<>();
  private final Map<List<Long>, long[]> gemms = new HashMap<>(); // [m, k, n] -> {nanos, calls}
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
    op(op.getOp().opName(), ctx == null ? List.of() : ctx.getInputArrays(),
        ctx == null ? List.of() : ctx.getIArguments(),
        outputs == null || outputs.length == 0 ? null : outputs[0], t);
  }

  /** One op's time, from SameDiff's listener calls or from a replay plan. */
  @Override
  public void op(String name, List<INDArray> inputs, List<Long> iArgs, INDArray output, long t) {
    add(byOp, name, t);
    String shape = output == null ? "[]" : Arrays.toString(output.shape());
    add(byShape, name + " " + shape, t);
    if (name.equals("matmul") && inputs.size() >= 2) {
      List<Long> mkn = gemmShape(inputs.get(0), inputs.get(1), iArgs);
      if (mkn != null) {
        long[] v = gemms.computeIfAbsent(mkn, x -> new long[2]);
        v[0] += t;
        v[1]++;
      }
    }
  }

  /** (M, K, N) of a rank-2 matmul with libnd4j's transpose arguments, or null for batched ones. */
  static List<Long> gemmShape(INDArray a, INDArray b, List<Long> iArgs) {
    if (a == null || b == null || a.rank() != 2 || b.rank() != 2) {
      return null;
    }
    boolean ta = iArgs != null && iArgs.size() > 0 && iArgs.get(0) != 0;
    boolean tb = iArgs != null && iArgs.size() > 1 && iArgs.get(1) != 0;
    long m = ta ? a.size(1) : a.size(0);
    long k = ta ? a.size(0) : a.size(1);
    long n = tb ? b.size(0) : b.size(1);
    return List.of(m, k, n);
  }

  /** One GEMM shape of the graph: time inside the op and its throughput. */
  public record Gemm(long m, long k, long n, long nanos, long calls) {
    public double gflops() {
      return 2.0 * m * k * n * calls / nanos;
    }
  }

  /** Rank-2 matmuls by (M, K, N), most time first. */
  public List<Gemm> gemms() {
    List<Gemm> out = new ArrayList<>();
    gemms.forEach((s, v) -> out.add(new Gemm(s.get(0), s.get(1), s.get(2), v[0], v[1])));
    out.sort((a, b) -> Long.compare(b.nanos(), a.nanos()));
    return out;
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

  /**
   * Plain sgemm throughput for one shape, measured now (best of 5 after 2 warm-ups, fresh
   * row-major operands, no SameDiff): the reference the in-graph matmuls are held against.
   */
  public static double sgemmGflops(long m, long k, long n) {
    INDArray a = Nd4j.rand(DataType.FLOAT, m, k);
    INDArray b = Nd4j.rand(DataType.FLOAT, k, n);
    long best = Long.MAX_VALUE;
    for (int i = 0; i < 7; i++) {
      long t0 = System.nanoTime();
      INDArray c = Nd4j.gemm(a, b, false, false);
      long t = System.nanoTime() - t0;
      c.close();
      if (i >= 2) {
        best = Math.min(best, t);
      }
    }
    a.close();
    b.close();
    return 2.0 * m * k * n / best;
  }

  /**
   * The top {@code n} GEMM shapes of the graph: in-graph GFLOP/s (time inside the op, mean over
   * calls) against plain sgemm of the same shape measured in the same run.
   */
  public String gemmTable(int n, int steps) {
    StringBuilder sb = new StringBuilder("  rank-2 matmuls (M x K x N): in-graph vs plain sgemm, same run:\n");
    for (Gemm g : gemms().subList(0, Math.min(n, gemms().size()))) {
      double ref = sgemmGflops(g.m(), g.k(), g.n());
      sb.append(String.format(Locale.ROOT, "    %5d x %5d x %5d  %4d calls/step  %6.1f GFLOP/s  sgemm %6.1f  ratio %.2f%n",
          g.m(), g.k(), g.n(), g.calls() / steps, g.gflops(), ref, g.gflops() / ref));
    }
    return sb.toString();
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
