package dev.loraj.core.graph;

import static dev.loraj.core.graph.ReplayPlan.SRC_FIXED;
import static dev.loraj.core.graph.ReplayPlan.SRC_FRESH;
import static dev.loraj.core.graph.ReplayPlan.SRC_PLACEHOLDER;

import dev.loraj.core.engine.Engine;
import dev.loraj.core.graph.GradientReplay.Unsupported;
import dev.loraj.core.graph.ReplayPlan.Slot;
import dev.loraj.core.graph.ReplayPlan.Step;
import dev.loraj.core.graph.ReplayRecorder.Out;
import dev.loraj.core.graph.ReplayRecorder.Recorded;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import org.nd4j.autodiff.functions.DifferentialFunction;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.autodiff.samediff.VariableType;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.CustomOp;
import org.nd4j.linalg.api.ops.Op;
import org.nd4j.linalg.api.ops.OpContext;
import org.nd4j.linalg.api.ops.ReduceOp;
import org.nd4j.linalg.api.ops.ScalarOp;
import org.nd4j.linalg.api.ops.impl.shape.tensorops.BaseTensorOp;
import org.nd4j.linalg.api.ops.impl.transforms.custom.Assign;
import org.nd4j.linalg.api.ops.impl.transforms.gradient.GradientBackwardsMarker;
import org.nd4j.linalg.api.ops.impl.transforms.same.Identity;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Turns a recorded run ({@link ReplayRecorder}) into a {@link ReplayPlan}. Pass 1 resolves every
 * op input by variable name to a slot (a variable or constant, a placeholder, or an earlier op's
 * output), checks it against the array the recorded run passed, and notes each slot's last use;
 * an op the plan does not model or an input that does not check out is {@link Unsupported}.
 * Pass 2 allocates the intermediate buffers, sharing one between slots whose lifetimes do not
 * overlap, and prepares each op's context. One builder builds one plan.
 */
final class ReplayPlanBuilder {
  final SameDiff gradFn;
  final Map<String, INDArray> ph;
  final List<String> names;
  final Map<String, Slot> byVar = new HashMap<>();
  /** What each variable was in the recorded run: an output's id, or the array itself. */
  final Map<String, Object> recordedArray = new HashMap<>();
  final Map<Slot, Integer> lastUse = new IdentityHashMap<>();
  final List<String> checkedVars = new ArrayList<>();
  final List<INDArray> checkedArrays = new ArrayList<>();

  ReplayPlanBuilder(SameDiff gradFn, Map<String, INDArray> ph, List<String> names) {
    this.gradFn = gradFn;
    this.ph = ph;
    this.names = names;
  }

  ReplayPlan build(List<Recorded> ops) throws Unsupported {
    List<Slot[]> outSlots = new ArrayList<>();
    // pass 1: sources of every input, output slots, last uses
    List<Slot[]> inSlots = new ArrayList<>();
    List<Slot> scalarArgs = new ArrayList<>();
    for (int i = 0; i < ops.size(); i++) {
      Recorded r = ops.get(i);
      DifferentialFunction op = r.op().getOp();
      List<String> ins = r.ins();
      List<String> outs = r.outs();
      check(!(op instanceof BaseTensorOp || op instanceof Assign
          || op.getClass().getName().startsWith("org.nd4j.linalg.api.ops.impl.controlflow")
          || op.getClass().getSimpleName().equals("Assert")
          || op.getClass().getSimpleName().equals("Invoke")
          || op.getClass().getSimpleName().equals("CreateView")
          || op.getClass().getSimpleName().equals("ExternalErrorsFunction")),
          "op " + op.opName() + " (" + op.getClass().getSimpleName() + ")");
      if (op instanceof Identity) {
        check(ins.size() == 1 && outs.size() == 1, "identity with " + ins.size() + " inputs");
        Slot s = source(ins.get(0), r.inputs().get(0), false);
        use(s, i);
        alias(outs.get(0), s, r.outputs()[0] == null ? null : r.outputs()[0].id());
        inSlots.add(null);
        outSlots.add(null);
        scalarArgs.add(null);
        continue;
      }
      if (op instanceof GradientBackwardsMarker) {
        check(outs.size() == 1, "gradient marker outputs");
        INDArray one = r.outputs()[0].value();
        alias(outs.get(0), fixed(one), r.outputs()[0].id());
        inSlots.add(null);
        outSlots.add(null);
        scalarArgs.add(null);
        continue;
      }
      boolean custom = op instanceof CustomOp;
      check(custom || op instanceof Op, "op " + op.opName() + " is neither custom nor legacy");
      List<String> used = ins;
      Slot scalarArg = null;
      if (!custom && ins.size() == 2) {
        if (op instanceof ReduceOp && ((ReduceOp) op).getOpType() != Op.Type.REDUCE3) {
          used = ins.subList(0, 1); // the axis argument: SameDiff set the op's dimensions
          check(gradFn.getVariable(ins.get(1)).getVariableType() == VariableType.CONSTANT,
              "reduction " + op.opName() + " with a computed axis");
        } else if (op instanceof ScalarOp) {
          scalarArg = source(ins.get(1), null, true);
          use(scalarArg, i);
        }
      }
      boolean javaComputed = op instanceof JavaComputedOp;
      // a Java-computed op's inputs were replaced by its result before the kernel ran
      check(javaComputed || used.size() == r.inputs().size(), "op " + op.opName() + ": "
          + used.size() + " named inputs, " + r.inputs().size() + " in its context");
      Slot[] in = new Slot[used.size()];
      for (int k = 0; k < in.length; k++) {
        in[k] = source(used.get(k), javaComputed ? null : r.inputs().get(k), false);
        use(in[k], i);
      }
      check(r.outputs().length == outs.size(), "op " + op.opName() + " outputs");
      Slot[] out = new Slot[outs.size()];
      for (int k = 0; k < out.length; k++) {
        Out rec = r.outputs()[k];
        check(rec != null, "op " + op.opName() + " has no output " + k);
        boolean requested = names.contains(outs.get(k));
        out[k] = new Slot(requested ? SRC_FRESH : SRC_FIXED, outs.get(k), null, rec.shape(),
            rec.type(), rec.order());
        alias(outs.get(k), out[k], rec.id());
      }
      inSlots.add(in);
      outSlots.add(out);
      scalarArgs.add(scalarArg);
    }
    for (String n : names) {
      Slot s = byVar.get(n);
      check(s != null, "requested output " + n + " was not computed");
      use(s, Integer.MAX_VALUE);
    }
    // pass 2: buffers (shared where lifetimes do not overlap), contexts
    Map<String, List<INDArray>> free = new HashMap<>();
    Map<Integer, List<Slot>> releaseAfter = new HashMap<>();
    lastUse.forEach((s, at) -> {
      if (s.kind == SRC_FIXED && s.array == null) {
        releaseAfter.computeIfAbsent(at, k -> new ArrayList<>()).add(s);
      }
    });
    List<Step> plan = new ArrayList<>();
    List<INDArray> owned = new ArrayList<>();
    for (int i = 0; i < ops.size(); i++) {
      Slot[] in = inSlots.get(i);
      if (in != null) {
        Recorded r = ops.get(i);
        Slot[] out = outSlots.get(i);
        for (Slot s : out) {
          if (s.kind == SRC_FIXED && s.array == null) {
            List<INDArray> pool = free.get(poolKey(s));
            if (pool != null && !pool.isEmpty()) {
              // same type and length: a c-order view of the freed buffer in this shape
              s.array = pool.remove(pool.size() - 1).reshape('c', s.shape);
            } else {
              s.array = Nd4j.createUninitialized(s.type, s.shape, s.order);
              owned.add(s.array);
            }
          }
        }
        DifferentialFunction op = r.op().getOp();
        OpContext ctx = Nd4j.getExecutioner().buildContext();
        Step st = new Step(op, ctx, in, out, op instanceof CustomOp, op instanceof JavaComputedOp,
            scalarArgs.get(i));
        if (!r.iArgs().isEmpty()) {
          st.iArgs = r.iArgs().stream().mapToLong(Long::longValue).toArray();
        }
        if (!r.tArgs().isEmpty()) {
          st.tArgs = r.tArgs().stream().mapToDouble(Double::doubleValue).toArray();
        }
        if (!r.bArgs().isEmpty()) {
          st.bArgs = new boolean[r.bArgs().size()];
          for (int k = 0; k < st.bArgs.length; k++) {
            st.bArgs[k] = r.bArgs().get(k);
          }
        }
        if (!r.dArgs().isEmpty()) {
          st.dArgs = r.dArgs().toArray(DataType[]::new);
        }
        if (in.length == 2 && out.length == 1 && Engine.current().hostKernels()) {
          st.gemm = SplitGemm.of(op, st.iArgs, st.tArgs);
        }
        boolean perReplay = st.javaComputed || st.scalarArg != null;
        for (Slot s : in) {
          perReplay |= s.kind != SRC_FIXED;
        }
        for (Slot s : out) {
          perReplay |= s.kind != SRC_FIXED;
        }
        st.bindsPerReplay = perReplay;
        if (!perReplay) {
          st.bind(); // once: the context keeps these arrays for every replay
        }
        plan.add(st);
      }
      for (Slot s : releaseAfter.getOrDefault(i, List.of())) {
        free.computeIfAbsent(poolKey(s), k -> new ArrayList<>()).add(s.array);
      }
    }
    Slot[] results = new Slot[names.size()];
    for (int k = 0; k < results.length; k++) {
      results[k] = byVar.get(names.get(k));
    }
    List<Slot> placeholders = new ArrayList<>();
    for (Slot s : byVar.values()) {
      if (s.kind == SRC_PLACEHOLDER && !placeholders.contains(s)) {
        placeholders.add(s);
      }
    }
    return new ReplayPlan(plan, results, names, placeholders, checkedVars, checkedArrays, owned,
        gradFn.getOps().size());
  }

  /**
   * Buffers are shared by type and length between c-order arrays (any shape); other layouts
   * only with the same shape and order.
   */
  private static String poolKey(Slot s) {
    long n = 1;
    for (long d : s.shape) {
      n *= d;
    }
    return s.order == 'c' ? s.type + ":" + n : s.type + Arrays.toString(s.shape) + s.order;
  }

  private static void check(boolean ok, String what) throws Unsupported {
    if (!ok) {
      throw new Unsupported(what);
    }
  }

  /** Output ids compare by value, arrays by identity. */
  private static boolean sameRecorded(Object a, Object b) {
    return a instanceof Long id ? id.equals(b) : a == b;
  }

  private Slot fixed(INDArray a) {
    return new Slot(SRC_FIXED, null, a, a.shape(), a.dataType(), a.ordering());
  }

  private void use(Slot s, int step) {
    lastUse.merge(s, step, Math::max);
  }

  /** Output variable {@code var} is {@code slot}; {@code recorded} is what the run produced. */
  private void alias(String var, Slot slot, Object recorded) throws Unsupported {
    check(!byVar.containsKey(var), "variable " + var + " produced twice");
    byVar.put(var, slot);
    recordedArray.put(var, recorded);
  }

  /** The slot variable {@code var} is read from; {@code recorded} (if known) must match it. */
  private Slot source(String var, Object recorded, boolean scalar) throws Unsupported {
    Slot s = byVar.get(var);
    if (s != null) {
      check(recorded == null || sameRecorded(recordedArray.get(var), recorded),
          "input " + var + " is not the array its op produced");
      return s;
    }
    SDVariable v = gradFn.getVariable(var);
    check(v != null, "unknown input " + var);
    VariableType t = v.getVariableType();
    if (t == VariableType.VARIABLE || t == VariableType.CONSTANT) {
      INDArray a = gradFn.getArrForVarName(var);
      check(a != null && (recorded == null || a == recorded), "input " + var + " (" + t
          + ") is not the graph's array");
      s = fixed(a);
      checkedVars.add(var);
      checkedArrays.add(a);
    } else if (t == VariableType.PLACEHOLDER) {
      INDArray a = ph.get(var);
      check(a != null && (recorded == null || a == recorded),
          "placeholder " + var + " is not the caller's array");
      s = new Slot(SRC_PLACEHOLDER, var, null, a.shape(), a.dataType(), a.ordering());
    } else {
      throw new Unsupported("input " + var + " (" + t + ") has no producer in the run");
    }
    byVar.put(var, s);
    // the graph's or caller's array, also when a Java-computed op (whose recorded inputs are
    // gone) reads it first: later readers are checked against it
    recordedArray.put(var, s.kind == SRC_PLACEHOLDER ? ph.get(var) : s.array);
    return s;
  }
}
