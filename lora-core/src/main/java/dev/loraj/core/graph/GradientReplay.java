package dev.loraj.core.graph;

import dev.loraj.core.engine.Engine;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.nd4j.autodiff.functions.DifferentialFunction;
import org.nd4j.autodiff.listeners.At;
import org.nd4j.autodiff.listeners.BaseListener;
import org.nd4j.autodiff.listeners.Operation;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.autodiff.samediff.VariableType;
import org.nd4j.autodiff.samediff.internal.SameDiffOp;
import com.google.common.collect.MapMaker;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.CustomOp;
import org.nd4j.linalg.api.ops.DynamicCustomOp;
import org.nd4j.linalg.api.ops.Op;
import org.nd4j.linalg.api.ops.OpContext;
import org.nd4j.linalg.api.ops.ReduceOp;
import org.nd4j.linalg.api.ops.ScalarOp;
import org.nd4j.linalg.api.ops.executioner.OpExecutioner;
import org.nd4j.linalg.api.ops.impl.shape.tensorops.BaseTensorOp;
import org.nd4j.linalg.api.ops.impl.transforms.custom.Assign;
import org.nd4j.linalg.api.ops.impl.transforms.gradient.GradientBackwardsMarker;
import org.nd4j.linalg.api.ops.impl.transforms.same.Identity;
import org.nd4j.linalg.dataset.api.MultiDataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Replays a SameDiff graph's ops without SameDiff's session (a training step's gradient function,
 * {@link Graphs#gradientsAndOutputs}, or an inference graph, {@link Graphs#output}): the op list
 * of one recorded run, each op with its own prepared {@link OpContext}, executed in order on
 * arrays allocated once.
 *
 * <p>Why: a SameDiff run spends, per op, Java time on dependency tracking, variable lookups, a
 * native output-shape call and array-cache bookkeeping before the kernel starts: 9% of a BERT
 * LoRA step (batch 8 x 128) and 14% of a Llama step fell between ops (docs/benchmarks.md), with
 * ~900 to ~1,900 ops per step. The graph, the shapes and therefore every one of those decisions
 * are the same from one step to the next, so they are made once. The kernels, their order, their
 * arguments and their inputs are exactly those of SameDiff's run, so results are bit-identical
 * ({@code GradientReplayTest}).
 *
 * <p>How: the first run with a given set of placeholder shapes goes through SameDiff as usual;
 * the second is recorded (a listener sees every op's context: inputs, outputs, arguments) and
 * turned into a plan; from the third on the plan runs. Every op input is resolved by variable
 * name and checked against the array the recorded run passed: a variable or constant (the
 * graph's own array, checked for identity at every replay, so a replaced parameter array makes
 * the plan rebuild), a placeholder (the caller's array of this step) or an earlier op's output.
 * Intermediate arrays are allocated once per plan and shared between variables whose lifetimes
 * do not overlap; requested outputs get fresh arrays at every replay (the caller owns, and the
 * trainer closes, them). A graph with an op the plan does not model (control flow, tensor arrays,
 * assertions, ...) or an input that does not check out is left to SameDiff for good.
 *
 * <p>{@code -Dloraj.replay=false} turns it off (before/after runs), and the portable engine does
 * not use it ({@link Engine#replay()}). Graphs with listeners attached
 * (the profiler of {@code lora bench step --profile}) always run through SameDiff.
 */
final class GradientReplay {
  private static final Logger log = LoggerFactory.getLogger(GradientReplay.class);

  /** Tests switch this off for before/after comparisons; {@link #enabled()} is what counts. */
  static volatile boolean enabled = true;

  /** Whether runs may replay: the engine replays ({@link Engine#replay()}) and no test turned it off. */
  static boolean enabled() {
    return enabled && Engine.current().replay();
  }

  /** Replayed runs so far (all graphs, all threads): tests check that the plan was used. */
  static final java.util.concurrent.atomic.AtomicLong REPLAYS = new java.util.concurrent.atomic.AtomicLong();

  /** Requested names and the placeholders' shapes and types, by thread. */
  record Key(long thread, List<String> names, Map<String, String> placeholders) {
    static Key of(List<String> names, Map<String, INDArray> ph) {
      Map<String, String> shapes = new java.util.TreeMap<>();
      ph.forEach((k, v) -> shapes.put(k, v.dataType() + Arrays.toString(v.shape()) + v.ordering()));
      return new Key(Thread.currentThread().getId(), List.copyOf(names), shapes);
    }
  }

  /**
   * Records every executed op with its arguments and what the plan needs of its arrays.
   *
   * <p>It keeps no array the run produced: an op's output is recorded as an {@link Out} (a number
   * unique within the run, its shape, type and order), and an input that an earlier op produced as
   * that number, found through a weak identity map. Holding the outputs themselves kept every
   * array of the recorded step reachable until the plan was built, on top of the session's own
   * and the plan's new ones: the recorded step was the peak of a training run. Inputs that no op
   * of the run produced (variables, constants, placeholders: arrays that live on anyway) are kept
   * as they are, for the identity checks of {@link #build}.
   */
  static final class Recorder extends BaseListener {
    final List<Recorded> ops = new ArrayList<>();
    /** Each live output array of the run and the number of its latest production (weak, identity keys). */
    private final Map<INDArray, Long> produced = new MapMaker().weakKeys().makeMap();
    private long next;

    @Override
    public boolean isActive(Operation operation) {
      return true;
    }

    @Override
    public void opExecution(SameDiff sd, At at, MultiDataSet batch, SameDiffOp op, OpContext oc,
        INDArray[] outputs) {
      List<Object> ins = new ArrayList<>();
      if (oc != null) {
        for (INDArray a : oc.getInputArrays()) {
          Long id = a == null ? null : produced.get(a);
          ins.add(id != null ? id : a);
        }
      }
      boolean marker = op.getOp() instanceof GradientBackwardsMarker;
      Out[] outs = new Out[outputs == null ? 0 : outputs.length];
      for (int k = 0; k < outs.length; k++) {
        INDArray a = outputs[k];
        if (a != null) {
          // an output that is one of the op's inputs (an identity passes its input on) keeps its
          // number, as the array keeps its identity; any other array is a new value
          Long known = produced.get(a);
          long id = known != null && oc != null && passesOn(oc, a) ? known : next++;
          produced.put(a, id);
          outs[k] = new Out(id, a.shape(), a.dataType(), a.ordering(), marker ? a.dup() : null);
        }
      }
      ops.add(new Recorded(op,
          op.getInputsToOp() == null ? List.of() : List.copyOf(op.getInputsToOp()),
          op.getOutputsOfOp() == null ? List.of() : List.copyOf(op.getOutputsOfOp()),
          ins, outs,
          oc == null ? List.of() : new ArrayList<>(oc.getIArguments()),
          oc == null ? List.of() : new ArrayList<>(oc.getTArguments()),
          oc == null ? List.of() : new ArrayList<>(oc.getBArguments()),
          oc == null ? List.of() : new ArrayList<>(oc.getDArguments())));
    }
  }

  private static boolean passesOn(OpContext oc, INDArray out) {
    for (INDArray a : oc.getInputArrays()) {
      if (a == out) {
        return true;
      }
    }
    return false;
  }

  /**
   * An op output of the recorded run: {@code id} identifies the array within the run, {@code value}
   * is a copy of it where the plan needs the value itself (the gradient marker's ones), else null.
   */
  record Out(long id, long[] shape, DataType type, char order, INDArray value) {}

  /**
   * One executed op: {@code ins} and {@code outs} are the variables it read and wrote (the op's
   * own, or renamed ones in a recomputed copy, see {@link BlockRecompute}); {@code inputs} what
   * the recorded run passed, each the {@link Out#id} of an earlier output or the array itself
   * (see {@link Recorder}); {@code outputs} what it produced.
   */
  record Recorded(SameDiffOp op, List<String> ins, List<String> outs, List<Object> inputs,
      Out[] outputs, List<Long> iArgs, List<Double> tArgs, List<Boolean> bArgs,
      List<DataType> dArgs) {

    /** The same execution reading {@code newIns} and writing {@code newOuts}. */
    Recorded renamed(List<String> newIns, List<String> newOuts) {
      return new Recorded(op, newIns, newOuts, inputs, outputs, iArgs, tArgs, bArgs, dArgs);
    }
  }

  /** Why a recorded run cannot become a plan. */
  static final class Unsupported extends Exception {
    Unsupported(String message) {
      super(message);
    }
  }

  /**
   * Builds the plan of a recorded run of {@code gradFn} (any graph): {@code ph} are the
   * placeholders it ran with, {@code names} the outputs it returned.
   */
  static Plan build(SameDiff gradFn, List<Recorded> ops, Map<String, INDArray> ph, List<String> names)
      throws Unsupported {
    return new Builder(gradFn, ph, names).build(ops);
  }

  /** Where a step's input comes from at replay time. */
  private static final int SRC_FIXED = 0;
  private static final int SRC_PLACEHOLDER = 1;
  private static final int SRC_FRESH = 2;

  /** One array of the plan: fixed (a variable, constant or pooled buffer) or bound per replay. */
  private static final class Slot {
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
  private static final class Step {
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
      this.inputs = direct ? new ArrayList<>(java.util.Collections.nCopies(in.length, null)) : null;
      this.scalarArg = scalarArg;
    }
  }

  private static final class Builder {
    final SameDiff gradFn;
    final Map<String, INDArray> ph;
    final List<String> names;
    final Map<String, Slot> byVar = new HashMap<>();
    /** What each variable was in the recorded run: an output's id, or the array itself. */
    final Map<String, Object> recordedArray = new HashMap<>();
    final Map<Slot, Integer> lastUse = new IdentityHashMap<>();
    final List<String> checkedVars = new ArrayList<>();
    final List<INDArray> checkedArrays = new ArrayList<>();

    Builder(SameDiff gradFn, Map<String, INDArray> ph, List<String> names) {
      this.gradFn = gradFn;
      this.ph = ph;
      this.names = names;
    }

    Plan build(List<Recorded> ops) throws Unsupported {
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
      return new Plan(plan, results, names, placeholders, checkedVars, checkedArrays, owned,
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
      recordedArray.put(var, recorded);
      return s;
    }
  }

  /** A replayable run: steps in SameDiff's order, on the arrays allocated when it was built. */
  static final class Plan {
    private final List<Step> steps;
    private final Slot[] results;
    private final List<String> names;
    private final List<Slot> placeholders;
    private final List<String> checkedVars;
    private final List<INDArray> checkedArrays;
    private final List<INDArray> owned;
    private final int opCount;
    private boolean closed;

    Plan(List<Step> steps, Slot[] results, List<String> names, List<Slot> placeholders,
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
      REPLAYS.incrementAndGet();
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

    private static void exec(Step st, OpExecutioner ex) {
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
    void addTo(dev.loraj.core.engine.MemoryLedger ledger, dev.loraj.core.engine.MemoryLedger.Category c) {
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
}
