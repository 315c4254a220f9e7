package dev.loraj.core.graph;

import dev.loraj.core.engine.MemoryLedger;
import dev.loraj.core.engine.Threads;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.nd4j.autodiff.functions.DifferentialFunction;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.CustomOp;
import org.nd4j.linalg.api.ops.DynamicCustomOp;
import org.nd4j.linalg.api.ops.Op;
import org.nd4j.linalg.api.ops.OpContext;
import org.nd4j.linalg.api.ops.ScalarOp;
import org.nd4j.linalg.api.ops.executioner.OpExecutioner;
import org.nd4j.linalg.factory.Nd4j;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A replayable run ({@link GradientReplay}): steps in SameDiff's order, each op with its own
 * prepared {@link OpContext}, on the arrays allocated when the plan was built
 * ({@link ReplayPlanBuilder}). Ops whose inputs and outputs are all fixed arrays are bound to
 * their context once; the others (placeholders, requested outputs, Java-computed ops, legacy
 * scalar ops with an array scalar) are bound at every replay and purged after it.
 */
final class ReplayPlan {
  private static final Logger log = LoggerFactory.getLogger(ReplayPlan.class);

  /** Where a step's input comes from at replay time. */
  static final int SRC_FIXED = 0;
  static final int SRC_PLACEHOLDER = 1;
  static final int SRC_FRESH = 2;

  /** One array of the plan: fixed (a variable, constant or pooled buffer) or bound per replay. */
  static final class Slot {
    final int kind;
    final String name; // placeholder name, or the requested output's variable
    INDArray array; // fixed: the array; fresh/placeholder: this replay's array
    final long[] shape;
    final DataType type;
    final char order;

    Slot(int kind, String name, INDArray array, long[] shape, DataType type, char order) {
      this.kind = kind;
      this.name = name;
      this.array = array;
      this.shape = shape;
      this.type = type;
      this.order = order;
    }
  }

  /** One op: its context and which of its inputs and outputs are bound per replay. */
  static final class Step {
    final DifferentialFunction op;
    final OpContext ctx;
    final Slot[] in;
    final Slot[] out;
    final boolean custom;
    final boolean javaComputed;
    /** A Java-computed op that writes into its output itself: no context, no identity copy. */
    final boolean direct;
    final List<INDArray> inputs;
    final Slot scalarArg; // a legacy scalar op's scalar given as an array input
    boolean bindsPerReplay;
    /** A matmul that may run split over the kernel pool, or null. */
    SplitGemm gemm;
    long[] iArgs;
    double[] tArgs;
    boolean[] bArgs;
    DataType[] dArgs;

    /** Sets the arguments, inputs and outputs (this replay's arrays) on the context. */
    void bind() {
      if (iArgs != null) {
        ctx.setIArguments(iArgs);
      }
      if (tArgs != null) {
        ctx.setTArguments(tArgs);
      }
      if (bArgs != null) {
        ctx.setBArguments(bArgs);
      }
      if (dArgs != null) {
        ctx.setDArguments(dArgs);
      }
      for (int k = 0; k < in.length; k++) {
        ctx.setInputArray(k, in[k].array);
      }
      for (int k = 0; k < out.length; k++) {
        ctx.setOutputArray(k, out[k].array);
      }
      if (scalarArg != null) {
        ((ScalarOp) op).setScalar(scalarArg.array);
      }
      if (javaComputed) {
        ((DynamicCustomOp) op).calculateOutputShape(ctx); // computes, then replaces input 0
      }
    }

    Step(DifferentialFunction op, OpContext ctx, Slot[] in, Slot[] out, boolean custom,
        boolean javaComputed, Slot scalarArg) {
      this.op = op;
      this.ctx = ctx;
      this.in = in;
      this.out = out;
      this.custom = custom;
      this.javaComputed = javaComputed;
      this.direct = javaComputed && ((JavaComputedOp) op).computesInto();
      this.inputs = direct ? new ArrayList<>(Collections.nCopies(in.length, null)) : null;
      this.scalarArg = scalarArg;
    }
  }

  private final List<Step> steps;
  private final Slot[] results;
  private final List<String> names;
  private final List<Slot> placeholders;
  private final List<String> checkedVars;
  private final List<INDArray> checkedArrays;
  private final List<INDArray> owned;
  private final int opCount;
  private boolean closed;

  ReplayPlan(List<Step> steps, Slot[] results, List<String> names, List<Slot> placeholders,
      List<String> checkedVars, List<INDArray> checkedArrays, List<INDArray> owned, int opCount) {
    this.steps = steps;
    this.results = results;
    this.names = names;
    this.placeholders = placeholders;
    this.checkedVars = checkedVars;
    this.checkedArrays = checkedArrays;
    this.owned = owned;
    this.opCount = opCount;
  }

  /** Whether the graph still has the ops and the variable arrays the plan was built on. */
  boolean isCurrent(SameDiff gradFn) {
    if (closed || gradFn.getOps().size() != opCount) {
      return false;
    }
    for (int i = 0; i < checkedVars.size(); i++) {
      if (gradFn.getArrForVarName(checkedVars.get(i)) != checkedArrays.get(i)) {
        return false;
      }
    }
    return true;
  }

  int size() {
    return steps.size();
  }

  /** Runs the plan on {@code ph}; returns the requested outputs by name (fresh arrays). */
  Map<String, INDArray> run(Map<String, INDArray> ph, OpTimer timer) {
    GradientReplay.REPLAYS.incrementAndGet();
    for (Slot s : placeholders) {
      s.array = ph.get(s.name);
    }
    Map<String, INDArray> outs = new HashMap<>();
    for (Slot s : results) {
      if (s.kind == SRC_FRESH) {
        s.array = Nd4j.createUninitialized(s.type, s.shape, s.order);
      }
    }
    OpExecutioner ex = Nd4j.getExecutioner();
    try (Threads.Scope blas = Threads.callerBlas()) {
      runSteps(ex, timer);
    }
    for (int k = 0; k < results.length; k++) {
      INDArray a = results[k].array;
      outs.put(names.get(k), results[k].kind == SRC_FRESH ? a : a.dup());
    }
    for (Slot s : placeholders) {
      s.array = null;
    }
    for (Slot s : results) {
      if (s.kind == SRC_FRESH) {
        s.array = null;
      }
    }
    return outs;
  }

  /** Runs every step in order ({@code timer}: time each op, or null). */
  private void runSteps(OpExecutioner ex, OpTimer timer) {
    for (Step st : steps) {
      long t0 = timer == null ? 0 : System.nanoTime();
      exec(st, ex);
      if (timer != null) {
        long t = System.nanoTime() - t0;
        List<INDArray> in = new ArrayList<>();
        for (Slot s : st.in) {
          in.add(s.array);
        }
        List<Long> iArgs = new ArrayList<>();
        if (st.iArgs != null) {
          for (long v : st.iArgs) {
            iArgs.add(v);
          }
        }
        String name = st.op instanceof VectorKernelOp v ? v.profileName() : st.op.opName();
        timer.op(name, in, iArgs, st.out.length == 0 ? null : st.out[0].array, t);
      }
    }
  }

  private static void exec(Step st, OpExecutioner ex) {
    if (st.gemm != null && st.gemm.run(st.in[0].array, st.in[1].array, st.out[0].array)) {
      return;
    }
    if (st.direct) {
      for (int k = 0; k < st.in.length; k++) {
        st.inputs.set(k, st.in[k].array);
      }
      ((JavaComputedOp) st.op).compute(st.inputs, st.out[0].array);
      return;
    }
    if (st.bindsPerReplay) {
      // bound in full and purged after, as SameDiff does: libnd4j's context keeps every
      // array set on it alive until it is purged (re-binding alone leaked the last batch)
      st.bind();
    }
    if (st.custom) {
      ex.exec((CustomOp) st.op, st.ctx);
    } else {
      ex.exec((Op) st.op, st.ctx);
      ((Op) st.op).clearArrays();
    }
    if (st.bindsPerReplay) {
      st.ctx.purge();
    }
  }

  /** Adds the arrays this plan allocated to {@code ledger} under {@code c}. */
  void addTo(MemoryLedger ledger, MemoryLedger.Category c) {
    if (!closed) {
      ledger.addAll(c, owned);
    }
  }

  void close() {
    if (closed) {
      return;
    }
    closed = true;
    for (INDArray a : owned) {
      if (!a.wasClosed()) {
        a.close();
      }
    }
    for (Step st : steps) {
      try {
        st.ctx.close();
      } catch (Exception e) {
        log.debug("closing an op context", e);
      }
    }
  }
}
