package dev.loraj.core.train;

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
   * (rows of zeros are ignored... not supported: every row must be one-hot).
   */
  static Objective classification() {
    return new Objective() {
      @Override
      public SDVariable loss(SameDiff sd, SDVariable logits) {
        SDVariable labels = sd.placeHolder("labels", DataType.FLOAT, -1, -1);
        SDVariable logp = sd.nn().logSoftmax(logits, 1);
        return labels.mul(logp).sum(1).mean().neg(); // -mean_i sum_c y_ic log p_ic
      }

      @Override
      public List<String> labelInputs() {
        return List.of("labels");
      }
    };
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
