package dev.loraj.core.train;

import dev.loraj.core.graph.FrozenMultiply;
import dev.loraj.core.graph.LogSoftmaxOut;
import dev.loraj.core.graph.VectorKernelOp;
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
