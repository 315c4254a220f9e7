package dev.loraj.core.graph;

import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import org.nd4j.autodiff.samediff.SameDiff;

/**
 * The replay plans ({@link GradientReplay}) of one training session's gradient function, by
 * placeholder shapes. Held by its owner (the trainer's session), so the plans, their op contexts
 * and their arrays go when the session goes; {@link #close} frees the arrays at once.
 */
public final class ReplayCache implements AutoCloseable {
  /** Plans kept (different placeholder shapes, e.g. a short last batch); the least used goes. */
  private static final int MAX_PLANS = 3;

  /** What a run does: SameDiff as usual, SameDiff recording for a plan, or the plan. */
  enum Mode { PLAIN, RECORD }

  private final LinkedHashMap<GradientReplay.Key, GradientReplay.Plan> plans =
      new LinkedHashMap<>(4, 0.75f, true);
  private final Map<GradientReplay.Key, Integer> seen = new HashMap<>();
  private SameDiff gradFn;
  private String unsupported;
  private OpTimer timer;

  /** Times every replayed op with {@code t} ({@code null}: no timing, the default). */
  public synchronized void profile(OpTimer t) {
    timer = t;
  }

  synchronized OpTimer timer() {
    return timer;
  }

  /**
   * The plan for this run, or the mode SameDiff should run in: the first run of a key is plain,
   * the second recorded.
   */
  synchronized Object lookup(SameDiff fn, GradientReplay.Key key) {
    if (gradFn != fn) { // a new gradient function: nothing recorded applies
      close();
      gradFn = fn;
      unsupported = null;
    }
    if (unsupported != null) {
      return Mode.PLAIN;
    }
    GradientReplay.Plan plan = plans.get(key);
    if (plan != null) {
      if (plan.isCurrent(fn)) {
        return plan;
      }
      plans.remove(key).close();
    }
    return seen.merge(key, 1, Integer::sum) >= 2 ? Mode.RECORD : Mode.PLAIN;
  }

  /** Keeps {@code plan} for {@code key}; {@code null} with a reason: SameDiff runs this graph. */
  synchronized void store(GradientReplay.Key key, GradientReplay.Plan plan, String whyNot) {
    if (plan == null) {
      unsupported = whyNot;
      return;
    }
    seen.remove(key);
    plans.put(key, plan);
    while (plans.size() > MAX_PLANS) {
      GradientReplay.Key eldest = plans.keySet().iterator().next();
      plans.remove(eldest).close();
    }
  }

  /** Why the session's graph runs through SameDiff, or {@code null} if it is replayed. */
  public synchronized String unsupported() {
    return unsupported;
  }

  /** Adds the arrays the plans allocated (their working buffers) to {@code ledger} under {@code c}. */
  public synchronized void addTo(dev.loraj.core.engine.MemoryLedger ledger,
      dev.loraj.core.engine.MemoryLedger.Category c) {
    plans.values().forEach(p -> p.addTo(ledger, c));
  }

  /** Frees the plans' arrays; later runs record new plans. */
  @Override
  public synchronized void close() {
    plans.values().forEach(GradientReplay.Plan::close);
    plans.clear();
    seen.clear();
  }
}
