package dev.loraj.eval.continual;

import dev.loraj.core.model.BaseModel;
import dev.loraj.core.model.PeftModel;
import dev.loraj.core.train.Objective;
import java.util.List;
import java.util.Map;
import org.nd4j.autodiff.samediff.SDIndex;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * Classification tasks T_1..T_n on one frozen base, for the continual-learning protocol.
 *
 * <p>Heads: one classifier over the union of all tasks' labels, task t owning the block of
 * columns {@code [offset(t), offset(t) + classes(t))}. Training on task t uses a softmax over its
 * own block only ({@link #objective()}: masked columns get no gradient, and Adam moves no row of
 * another task's block), and a test example of task t is classified by the argmax inside its
 * block. So the block is a separate head per task (PEFT's modules_to_save, one per task) that
 * only its own task trains; the label space of a task is known at test time (as O-LoRA's
 * instructions name the options) but no adapter is chosen by task id: forgetting measured here
 * is the shared encoder's adapters drifting, which is what O-LoRA and AM-LoRA address.
 */
public interface TaskSequence {

  /** Task ids in their natural order (orders are permutations of indices into this list). */
  List<String> taskIds();

  int classes(int task);

  default int offset(int task) {
    int o = 0;
    for (int t = 0; t < task; t++) {
      o += classes(t);
    }
    return o;
  }

  default int totalClasses() {
    return offset(taskIds().size());
  }

  /** A fresh base whose head has {@link #totalClasses()} outputs. */
  BaseModel newBaseModel();

  /** The head's module names (trained with every method, block-wise). */
  List<String> headModules();

  /**
   * Training batch of {@code task}: the model inputs plus {@code labels} (one-hot over all
   * classes, in the task's block) and {@code label_mask} (1 on the task's block), [n, total].
   */
  Map<String, INDArray> trainBatch(int task, long seed, long step, int batchSize);

  /** sha256 of each task's data file, by task id (empty for generated data). */
  default Map<String, String> dataSha256() {
    return Map.of();
  }

  /** Held-out accuracy on {@code task} (argmax inside the task's block). */
  double accuracy(PeftModel model, int task);

  /** Softmax cross-entropy restricted to each row's label block. */
  static Objective objective() {
    return new Objective() {
      @Override
      public SDVariable loss(SameDiff sd, SDVariable logits) {
        SDVariable labels = sd.placeHolder("labels", DataType.FLOAT, -1, -1);
        SDVariable mask = sd.placeHolder("label_mask", DataType.FLOAT, -1, -1);
        // masked columns pushed to -1e4: exp underflows to 0, so neither loss nor gradient sees them
        SDVariable masked = logits.add(mask.sub(1.0).mul(1e4));
        return labels.mul(Objective.logSoftmax(sd, masked)).sum(1).mean().neg();
      }

      @Override
      public List<String> labelInputs() {
        return List.of("labels", "label_mask");
      }
    };
  }

  /** {@code labels} and {@code label_mask} for task labels {@code y} in block {@code [offset, offset + k)}. */
  static void putLabels(Map<String, INDArray> batch, int[] y, int offset, int k, int total) {
    float[] l = new float[y.length * total];
    float[] m = new float[y.length * total];
    for (int i = 0; i < y.length; i++) {
      l[i * total + offset + y[i]] = 1f;
      java.util.Arrays.fill(m, i * total + offset, i * total + offset + k, 1f);
    }
    batch.put("labels", Nd4j.create(l, new long[] {y.length, total}, 'c'));
    batch.put("label_mask", Nd4j.create(m, new long[] {y.length, total}, 'c'));
  }

  /** The columns of one task's block, [n, k]. */
  static INDArray block(INDArray logits, int offset, int k) {
    return logits.get(NDArrayIndex.all(), NDArrayIndex.interval(offset, offset + k));
  }

  /** Fraction of rows whose block argmax equals {@code truth}. */
  static double accuracy(INDArray blockLogits, int[] truth) {
    int[] p = blockLogits.argMax(1).toIntVector();
    int hit = 0;
    for (int i = 0; i < truth.length; i++) {
      hit += p[i] == truth[i] ? 1 : 0;
    }
    return (double) hit / truth.length;
  }
}
