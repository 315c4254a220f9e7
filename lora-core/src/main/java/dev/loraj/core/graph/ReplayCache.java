package dev.loraj.core.graph;

import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.nd4j.autodiff.samediff.SameDiff;

/**
 * The replay plans ({@link GradientReplay}) of one training session's gradient function, by
 * placeholder shapes. Held by its owner (the trainer's session), so the plans, their op contexts
 * and their arrays go when the session goes; {@link #close} frees the arrays at once.
 */
public final class ReplayCache implements AutoCloseable {
  /** Plans kept (different placeholder shapes, e.g. a short last batch); the least used goes. */
  private static final int MAX_PLANS = 3;

  /**
   * What a run does: SameDiff as usual, SameDiff recording for a plan, or SameDiff recording on
   * scratch arrays ({@link ScratchMemoryMgr}) whose values are thrown away, the plan then running
   * the step itself.
   */
  enum Mode { PLAIN, RECORD, SCRATCH }

  private final LinkedHashMap<GradientReplay.Key, ReplayPlan> plans =
      new LinkedHashMap<>(4, 0.75f, true);
  private final Map<GradientReplay.Key, Integer> seen = new HashMap<>();
  private SameDiff gradFn;
  private String unsupported;
  private OpTimer timer;
  /** Op names of each block of the forward graph, when training steps recompute them. */
  private List<Set<String>> blocks;
  private int recomputedBlocks;
  private int recomputedOps;
  /** Set when a run on scratch arrays failed: later plans are recorded from real runs. */
  private boolean noScratch;

  /**
   * Gradient checkpointing ({@link BlockRecompute}): plans recorded from now on keep only the
   * values that cross the boundaries of these blocks (op names of the forward graph, in model
   * order) and recompute each block's activations in the backward pass; an empty list or
   * {@code null} turns it off. Plans recorded before stay as they are.
   */
  public synchronized void recomputeBlocks(List<Set<String>> blockOps) {
    blocks = blockOps == null || blockOps.isEmpty() ? null : List.copyOf(blockOps);
  }

  synchronized List<Set<String>> blocks() {
    return blocks;
  }

  /** Notes what the last plan built recomputes. */
  synchronized void recomputed(int blockCount, int opCount) {
    recomputedBlocks = blockCount;
    recomputedOps = opCount;
  }

  /**
   * Blocks the last recorded plan recomputes in its backward pass (0 before a plan exists, without
   * {@link #recomputeBlocks} or when the graph runs through SameDiff's session).
   */
  public synchronized int recomputedBlocks() {
    return plans.isEmpty() ? 0 : recomputedBlocks;
  }

  /** Ops the last recorded plan runs again to recompute its blocks (see {@link #recomputedBlocks}). */
  public synchronized int recomputedOps() {
    return plans.isEmpty() ? 0 : recomputedOps;
  }

  /** Times every replayed op with {@code t} ({@code null}: no timing, the default). */
  public synchronized void profile(OpTimer t) {
    timer = t;
  }

  synchronized OpTimer timer() {
    return timer;
  }

  /**
   * The plan for this run, or the mode SameDiff should run in: the first run of a key is plain,
   * the second recorded. With {@code scratch} (a gradient run) and blocks to recompute, the first
   * is recorded on scratch arrays instead: a plain or recorded run holds every activation at once,
   * which is what gradient checkpointing is asked to avoid, and it would be the run's peak.
   */
  synchronized Object lookup(SameDiff fn, GradientReplay.Key key, boolean scratch) {
    if (gradFn != fn) { // a new gradient function: nothing recorded applies
      close();
      gradFn = fn;
      unsupported = null;
    }
    if (unsupported != null) {
      return Mode.PLAIN;
    }
    ReplayPlan plan = plans.get(key);
    if (plan != null) {
      if (plan.isCurrent(fn)) {
        return plan;
      }
      plans.remove(key).close();
    }
    if (scratch && blocks != null && !noScratch) {
      return Mode.SCRATCH;
    }
    return seen.merge(key, 1, Integer::sum) >= 2 ? Mode.RECORD : Mode.PLAIN;
  }

  /** A run on scratch arrays failed: from now on plans are recorded from runs SameDiff computes. */
  synchronized void scratchFailed() {
    noScratch = true;
  }

  /** The plan stored for {@code key}, or null. */
  synchronized ReplayPlan plan(GradientReplay.Key key) {
    return plans.get(key);
  }

  /** Keeps {@code plan} for {@code key}; {@code null} with a reason: SameDiff runs this graph. */
  synchronized void store(GradientReplay.Key key, ReplayPlan plan, String whyNot) {
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
    plans.values().forEach(ReplayPlan::close);
    plans.clear();
    seen.clear();
  }
}
