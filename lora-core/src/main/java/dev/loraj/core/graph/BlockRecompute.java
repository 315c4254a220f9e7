package dev.loraj.core.graph;

import dev.loraj.core.graph.ReplayRecorder.Recorded;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.nd4j.linalg.api.ops.impl.transforms.gradient.GradientBackwardsMarker;

/**
 * Gradient checkpointing per transformer block on a recorded training step (the op list a
 * {@link GradientReplay} plan is built from): the forward pass keeps only what crosses a block
 * boundary, and the backward pass recomputes each block's forward right before the first op that
 * needs one of its activations (Chen et al. 2016, arXiv 1604.06174, with one checkpoint per block
 * as transformers' {@code gradient_checkpointing_enable}).
 *
 * <p>How: the model marks its blocks while it builds its graph ({@code ModelGraph.beginBlock}).
 * An op of the recorded step is a gradient op if it writes a gradient variable (SameDiff names
 * them {@code <variable>-grad}; the first is the loss's seed, written from the constant one) and
 * is not an op of the forward graph, or reads what a gradient op wrote; the others are forward
 * ops. A forward op belongs to the
 * block that created it, or (an op that only the gradient function has, computed from forward
 * values, e.g. a shape) to the one block whose values it reads. Of a block's outputs, those that
 * forward ops outside the block read (the block's output, the next block's input) or that the
 * caller requested are kept, and so are values computed from parameters only (no data: a
 * regularizer's terms); the others that gradient ops read are recomputed: a copy of the
 * block's forward ops that produce them (and only those) writes them under new names just before
 * their first gradient reader, and every gradient op reads the copies. The original activations
 * then die inside the forward pass, and the plan's buffer pooling (lifetimes that do not overlap
 * share a buffer) reuses their memory: about one block's activations are alive at a time instead
 * of every block's.
 *
 * <p>The recomputation runs the same kernels on the same inputs, so gradients are bit-identical
 * to the step without it. Ops that draw random numbers (dropout masks) are never rerun: their
 * outputs are kept. A block whose recomputation would read a value not yet computed at that
 * point is left as it is.
 */
final class BlockRecompute {
  private BlockRecompute() {}

  /** Suffix SameDiff gives the gradient of a variable (the loss's seeds the backward pass). */
  private static final String GRAD = "-grad";

  /** Suffix of the variables a recomputed op writes. */
  static final String SUFFIX = "/recomputed";

  /** The rewritten op list, how many blocks are recomputed and how many ops their copies run. */
  record Result(List<Recorded> ops, int blocks, int recomputedOps) {}

  /**
   * @param ops the recorded step, in execution order
   * @param blocks op names of each block of the forward graph, in model order
   * @param forwardOps names of every op of the forward graph (the loss included)
   * @param requested the run's requested outputs (never renamed, never dropped)
   * @param placeholders the run's placeholder names (the data)
   */
  static Result rewrite(List<Recorded> ops, List<Set<String>> blocks,
      Set<String> forwardOps, List<String> requested, Set<String> placeholders) {
    int n = ops.size();
    Map<String, Integer> producer = new HashMap<>();
    for (int i = 0; i < n; i++) {
      for (String out : ops.get(i).outs()) {
        producer.put(out, i);
      }
    }
    Map<String, Integer> blockOfName = new HashMap<>();
    for (int b = 0; b < blocks.size(); b++) {
      for (String name : blocks.get(b)) {
        blockOfName.put(name, b);
      }
    }
    boolean[] grad = new boolean[n];
    boolean[] data = new boolean[n];
    int[] block = new int[n];
    Arrays.fill(block, -1);
    for (int i = 0; i < n; i++) {
      Recorded r = ops.get(i);
      String name = r.op().getName();
      grad[i] = r.op().getOp() instanceof GradientBackwardsMarker
          || (!forwardOps.contains(name) && r.outs().stream().anyMatch(o -> o.endsWith(GRAD)));
      for (String in : r.ins()) {
        Integer p = producer.get(in);
        grad[i] |= p != null && p < i && grad[p];
        data[i] |= placeholders.contains(in) || (p != null && p < i && data[p]);
      }
      if (grad[i]) {
        continue;
      }
      Integer b = blockOfName.get(name);
      if (b != null) {
        block[i] = b;
      } else if (!forwardOps.contains(name)) {
        block[i] = onlyBlockRead(r, producer, block);
      }
    }
    Set<String> keep = new HashSet<>(requested);
    Map<String, Integer> firstGradRead = new HashMap<>();
    for (int j = 0; j < n; j++) {
      for (String in : ops.get(j).ins()) {
        Integer p = producer.get(in);
        if (p == null || block[p] < 0) {
          continue;
        }
        if (grad[j]) {
          firstGradRead.putIfAbsent(in, j);
        } else if (block[j] != block[p]) {
          keep.add(in); // crosses a block boundary in the forward pass
        }
      }
    }
    // per block: the variables gradient ops read that are recomputed, and where
    List<Set<String>> redirected = new ArrayList<>();
    int[] at = new int[blocks.size()];
    Arrays.fill(at, Integer.MAX_VALUE);
    for (int b = 0; b < blocks.size(); b++) {
      redirected.add(new HashSet<>());
    }
    firstGradRead.forEach((v, j) -> {
      int p = producer.get(v);
      // a value computed from parameters only (a regularizer's P^T P) is small, and its gradient
      // ops run first in the backward pass: recomputing it there would recompute the block early
      if (!keep.contains(v) && data[p] && recomputable(ops.get(p))) {
        redirected.get(block[p]).add(v);
        at[block[p]] = Math.min(at[block[p]], j);
      }
    });
    Map<Integer, List<Integer>> segments = new HashMap<>(); // insertion index -> op indices
    Map<String, String> rename = new HashMap<>();
    int recomputedBlocks = 0;
    int recomputedOps = 0;
    for (int b = 0; b < blocks.size(); b++) {
      if (redirected.get(b).isEmpty()) {
        continue;
      }
      TreeSet<Integer> segment = new TreeSet<>();
      List<String> todo = new ArrayList<>(redirected.get(b));
      boolean feasible = true;
      while (!todo.isEmpty() && feasible) {
        int p = producer.get(todo.remove(todo.size() - 1));
        if (!segment.add(p)) {
          continue;
        }
        for (String in : ops.get(p).ins()) {
          Integer q = producer.get(in);
          if (q == null || segment.contains(q)) {
            continue;
          }
          if (block[q] == b && !keep.contains(in) && data[q] && recomputable(ops.get(q))) {
            todo.add(in);
          } else {
            feasible = q < at[b]; // the kept original must exist where the copy runs
          }
        }
      }
      if (!feasible) {
        continue;
      }
      for (int p : segment) {
        for (String out : ops.get(p).outs()) {
          rename.put(out, out + SUFFIX);
        }
      }
      segments.put(at[b], new ArrayList<>(segment));
      recomputedBlocks++;
      recomputedOps += segment.size();
    }
    if (recomputedBlocks == 0) {
      return new Result(ops, 0, 0);
    }
    List<Recorded> out = new ArrayList<>(n + recomputedOps);
    for (int i = 0; i < n; i++) {
      for (int p : segments.getOrDefault(i, List.of())) {
        Recorded r = ops.get(p);
        out.add(r.renamed(r.ins().stream().map(v -> rename.getOrDefault(v, v)).toList(),
            r.outs().stream().map(rename::get).toList()));
      }
      Recorded r = ops.get(i);
      out.add(grad[i] ? r.renamed(r.ins().stream().map(v -> rename.getOrDefault(v, v)).toList(), r.outs()) : r);
    }
    return new Result(withoutUnread(out, requested), recomputedBlocks, recomputedOps);
  }

  /** The block whose values a forward op reads, when it reads one block's only; else -1. */
  private static int onlyBlockRead(Recorded r, Map<String, Integer> producer, int[] block) {
    int only = -1;
    for (String in : r.ins()) {
      Integer p = producer.get(in);
      if (p == null || block[p] < 0) {
        continue;
      }
      if (only >= 0 && only != block[p]) {
        return -1;
      }
      only = block[p];
    }
    return only;
  }

  /** A random op (a dropout mask) would draw other numbers when rerun: its output is kept. */
  private static boolean recomputable(Recorded r) {
    return !(r.op().getOp() instanceof DropoutMask);
  }

  /**
   * Drops ops none of whose outputs is read later or requested: the original forward ops whose
   * every reader now reads a recomputed copy.
   */
  private static List<Recorded> withoutUnread(List<Recorded> ops,
      List<String> requested) {
    Set<String> live = new HashSet<>(requested);
    boolean[] kept = new boolean[ops.size()];
    for (int i = ops.size() - 1; i >= 0; i--) {
      Recorded r = ops.get(i);
      kept[i] = r.outs().isEmpty() || r.outs().stream().anyMatch(live::contains);
      if (kept[i]) {
        live.addAll(r.ins());
      }
    }
    List<Recorded> out = new ArrayList<>();
    for (int i = 0; i < ops.size(); i++) {
      if (kept[i]) {
        out.add(ops.get(i));
      }
    }
    return out;
  }
}
