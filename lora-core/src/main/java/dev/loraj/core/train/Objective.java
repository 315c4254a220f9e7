package dev.loraj.core.train;

import dev.loraj.core.engine.Engine;
import dev.loraj.core.graph.FrozenMultiply;
import dev.loraj.core.graph.LmHeadCrossEntropy;
import dev.loraj.core.graph.LogSoftmaxOut;
import dev.loraj.core.graph.VectorKernelOp;
import dev.loraj.core.model.ModelOutput;
import java.util.List;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;

/** The training loss on top of a model's output, with the label placeholders it reads. */
public interface Objective {

  /** Creates the label placeholders and returns the scalar loss (mean over the batch). */
  SDVariable loss(SameDiff sd, SDVariable output);

  List<String> labelInputs();

  /**
   * The loss on a model's whole output: by default {@link #loss(SameDiff, SDVariable)} on its
   * output variable; an objective that can use the model's frozen head
   * ({@link ModelOutput#head()}) may compute the loss without the output.
   */
  default SDVariable loss(SameDiff sd, ModelOutput out) {
    return loss(sd, out.output());
  }

  /**
   * Softmax cross-entropy; placeholder {@code labels} holds one-hot rows [batch, classes]
   * (every row one-hot, or a probability distribution).
   */
  static Objective classification() {
    return new Objective() {
      @Override
      public SDVariable loss(SameDiff sd, SDVariable logits) {
        SDVariable labels = sd.placeHolder("labels", DataType.FLOAT, -1, -1);
        SDVariable rows = VectorKernelOp.crossEntropyRows(sd, logits, labels); // one fused op
        if (rows != null) {
          return rows.mean().neg();
        }
        SDVariable logp = logSoftmax(sd, logits);
        // labels are data: no gradient for them (FrozenMultiply), -mean_i sum_c y_ic log p_ic
        return FrozenMultiply.apply(sd, logp, labels).sum(1).mean().neg();
      }

      @Override
      public List<String> labelInputs() {
        return List.of("labels");
      }
    };
  }

  /**
   * Softmax cross-entropy against class indices: placeholder {@code label_ids} INT64 holds one
   * label per row of the logits [rows, classes] (any shape with {@code rows} elements, row-major:
   * for a causal LM, row {@code b * seq + t} of the logits and its next token). A label of
   * {@link VectorKernelOp#IGNORE_INDEX} (-100, as transformers' {@code ignore_index}) marks a
   * position the loss ignores; the loss is the mean over the counted rows (0 when none counts).
   * Any other label below 0 or not below the class count is an error naming the value and the
   * class count.
   *
   * <p>The same loss and gradients as {@link #classification()} fed one-hot rows of the same
   * labels, without a one-hot [rows, classes] array: at a 151,936-token vocabulary each such fp32
   * array is 156 MB per 256 positions. With the Vector API kernels the loss is one op whose
   * backward writes {@code (softmax - onehot) / counted} straight into the logits' gradient
   * ({@link VectorKernelOp#crossEntropyIds}), so around the loss only the logits and their
   * gradient exist. Without them (portable engine, kernels switched off) the one-hot rows are
   * built in the graph from the ids (ND4J ops only) and fed to the same log-softmax as
   * {@link #classification()}; there a label out of range makes the loss non-finite instead
   * ({@link NonFiniteLossException} from the trainer).
   */
  static Objective tokenCrossEntropy() {
    return new Objective() {
      /**
       * With a frozen head ({@link ModelOutput#head()}) and host kernels, one op computes the
       * loss from the final hidden states and the head weight a vocabulary chunk at a time
       * ({@link LmHeadCrossEntropy}): no [rows, vocab] logits or gradient exist. The logits
       * variable stays in the graph for inference; a training step does not compute it.
       */
      @Override
      public SDVariable loss(SameDiff sd, ModelOutput out) {
        ModelOutput.FrozenHead head = out.head();
        if (head == null || !Engine.current().hostKernels() || head.hidden().dataType() != DataType.FLOAT
            || !LmHeadCrossEntropy.enabled()) {
          return loss(sd, out.output());
        }
        SDVariable ids = sd.placeHolder(LABEL_IDS, DataType.INT64);
        return head.held() != null
            ? LmHeadCrossEntropy.loss(sd, head.hidden(), ids, head.held())
            : LmHeadCrossEntropy.loss(sd, head.hidden(), ids, head.weight());
      }

      @Override
      public SDVariable loss(SameDiff sd, SDVariable logits) {
        SDVariable ids = sd.placeHolder(LABEL_IDS, DataType.INT64);
        SDVariable flat = sd.reshape(ids, -1, 1); // [rows, 1]
        // counted rows, from the integer ids: no gradient flows through the count
        SDVariable counted = sd.neq(flat, (double) VectorKernelOp.IGNORE_INDEX).castTo(DataType.FLOAT).sum();
        SDVariable rows = VectorKernelOp.crossEntropyIds(sd, logits, ids); // one fused op, [rows, 3]
        SDVariable logp;
        if (rows != null) {
          logp = sd.stridedSlice(rows, new long[] {0, 0}, new long[] {0, 1}, new long[] {1, 1}, 1, 1, 0, 0, 0);
        } else {
          SDVariable vocab = sd.sizeAt(logits, 1).castTo(DataType.INT64);
          SDVariable classes = sd.range(sd.constant(0L), vocab, sd.constant(1L), DataType.INT64);
          SDVariable oneHot = sd.eq(flat, sd.reshape(classes, 1, -1)).castTo(DataType.FLOAT); // -100: zeros
          logp = FrozenMultiply.apply(sd, logSoftmax(sd, logits), oneHot).sum(1);
          // a counted row without its one-hot entry has a label out of range: log(1 - bad) is 0
          // when there is none, and makes the loss non-finite (the trainer stops) when there is
          SDVariable bad = counted.sub(oneHot.sum());
          return logp.sum().div(sd.math().max(counted, sd.constant(1f))).neg().add(sd.math().log(bad.rsub(1.0)));
        }
        return logp.sum().div(sd.math().max(counted, sd.constant(1f))).neg();
      }

      @Override
      public List<String> labelInputs() {
        return List.of(LABEL_IDS);
      }
    };
  }

  /** The label placeholder of {@link #tokenCrossEntropy()}. */
  String LABEL_IDS = "label_ids";

  /**
   * Row-wise {@code x - max - log(sum(exp(x - max)))} with a backward pass written out
   * ({@link LogSoftmaxOut}). Not ND4J's log_softmax: with an axis it fails when SameDiff clones it
   * for the gradient graph, and libnd4j's {@code log_softmax} forward alone took 320 ms on a Llama
   * LM head's [1024, 32000] logits ({@code lora bench step --profile}).
   */
  static SDVariable logSoftmax(SameDiff sd, SDVariable x) {
    return LogSoftmaxOut.apply(sd, x);
  }

  /** Mean squared error over all entries; placeholder {@code targets} with the output's shape. */
  static Objective meanSquaredError() {
    return new Objective() {
      @Override
      public SDVariable loss(SameDiff sd, SDVariable output) {
        SDVariable targets = sd.placeHolder("targets", DataType.FLOAT, -1, -1);
        SDVariable d = output.sub(targets);
        return d.mul(d).mean();
      }

      @Override
      public List<String> labelInputs() {
        return List.of("targets");
      }
    };
  }
}
