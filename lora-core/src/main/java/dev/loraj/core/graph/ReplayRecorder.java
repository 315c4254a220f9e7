package dev.loraj.core.graph;

import com.google.common.collect.MapMaker;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.nd4j.autodiff.listeners.At;
import org.nd4j.autodiff.listeners.BaseListener;
import org.nd4j.autodiff.listeners.Operation;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.autodiff.samediff.internal.SameDiffOp;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.OpContext;
import org.nd4j.linalg.api.ops.impl.transforms.gradient.GradientBackwardsMarker;
import org.nd4j.linalg.dataset.api.MultiDataSet;

/**
 * Records every op a SameDiff run executes, with its arguments and what a {@link ReplayPlan}
 * needs of its arrays: the listener of the run that {@link GradientReplay} turns into a plan.
 *
 * <p>It keeps no array the run produced: an op's output is recorded as an {@link Out} (a number
 * unique within the run, its shape, type and order), and an input that an earlier op produced as
 * that number, found through a weak identity map. Holding the outputs themselves kept every
 * array of the recorded step reachable until the plan was built, on top of the session's own
 * and the plan's new ones: the recorded step was the peak of a training run. Inputs that no op
 * of the run produced (variables, constants, placeholders: arrays that live on anyway) are kept
 * as they are, for the identity checks of {@link GradientReplay#build}.
 */
final class ReplayRecorder extends BaseListener {
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
   * (see {@link ReplayRecorder}); {@code outputs} what it produced.
   */
  record Recorded(SameDiffOp op, List<String> ins, List<String> outs, List<Object> inputs,
      Out[] outputs, List<Long> iArgs, List<Double> tArgs, List<Boolean> bArgs,
      List<DataType> dArgs) {

    /** The same execution reading {@code newIns} and writing {@code newOuts}. */
    Recorded renamed(List<String> newIns, List<String> newOuts) {
      return new Recorded(op, newIns, newOuts, inputs, outputs, iArgs, tArgs, bArgs, dArgs);
    }
  }
}
