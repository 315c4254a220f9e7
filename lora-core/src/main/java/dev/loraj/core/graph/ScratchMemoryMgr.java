package dev.loraj.core.graph;

import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import org.nd4j.autodiff.samediff.internal.memory.AbstractMemoryMgr;
import org.nd4j.linalg.api.buffer.DataBuffer;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.shape.LongShapeDescriptor;
import org.nd4j.linalg.factory.Nd4j;

/**
 * The session memory of a run that is recorded for a {@link ReplayPlan} and whose values are
 * thrown away ({@link Graphs#gradientsAndOutputs}, gradient checkpointing): every floating-point
 * intermediate array is a window onto one scratch buffer per type, as long as the largest such
 * array, so the run holds one activation's worth of memory instead of all of them.
 *
 * <p>Why that is enough for a recording: a plan needs each op, its arguments, and the shape,
 * type and order of every array, not the values, and in a training graph no shape depends on
 * a floating-point value. Integer and boolean arrays (positions, masks, indices, shapes) get
 * arrays of their own, as they may steer a gather or a reshape; so do the requested outputs
 * (the caller closes them). Ops read and write overlapping windows and compute garbage; nothing
 * of it is used.
 */
final class ScratchMemoryMgr extends AbstractMemoryMgr {
  private final Map<DataType, DataBuffer> scratch = new EnumMap<>(DataType.class);
  /** Every buffer this manager allocated: the scratch buffers, also those outgrown. */
  private final List<DataBuffer> owned = new ArrayList<>();

  @Override
  public INDArray allocate(boolean detached, DataType type, long... shape) {
    long n = 1;
    for (long d : shape) {
      n *= d;
    }
    if (detached || !type.isFPType() || n == 0) {
      return Nd4j.createUninitializedDetached(type, shape);
    }
    DataBuffer s = scratch.get(type);
    if (s == null || s.length() < n) {
      // the outgrown buffer stays valid under the windows already handed out; freed at close
      s = Nd4j.createBuffer(type, n, false); // not zeroed: pages become resident as ops write them
      scratch.put(type, s);
      owned.add(s);
    }
    // a buffer over the scratch pointer that does not own it: not a view (libnd4j's bitcast, for
    // one, refuses views), and collecting it frees nothing
    return Nd4j.create(Nd4j.createBuffer(s.pointer(), n, type), shape);
  }

  @Override
  public INDArray allocate(boolean detached, LongShapeDescriptor d) {
    return allocate(detached, d.dataType(), d.getShape());
  }

  /** Arrays of their own are freed when the session is done with them; windows are left alone. */
  @Override
  public void release(INDArray array) {
    if (!isWindow(array) && array.closeable() && !array.wasClosed()) {
      array.close();
    }
  }

  private boolean isWindow(INDArray a) {
    long at = a.data().address();
    for (DataBuffer s : owned) {
      if (!s.wasClosed() && s.address() == at) {
        return true;
      }
    }
    return false;
  }

  /** Frees the scratch buffers: the windows onto them must not be read again. */
  @Override
  public void close() {
    for (DataBuffer b : owned) {
      if (!b.wasClosed()) {
        b.close();
      }
    }
    owned.clear();
    scratch.clear();
  }
}
