package dev.loraj.core.graph;

import java.util.List;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.linalg.api.ops.impl.shape.Gather;

/**
 * ND4J's {@code gather} with a usable derivative for embedding lookups (axis 0): the gradient of
 * the table is {@code unsorted_segment_sum(dY, ids, vocab)}. ND4J 1.0.0-M2.1's own Gather
 * derivative builds a SameDiff while-loop that fails when a graph has more than one gather
 * ("Unable to replace samediff namespace"), which made a trainable embedding (full fine-tuning of
 * BERT) impossible. Axis 1 of a 2-D table (columns: an embedding adapter's A [r, vocab],
 * {@code EmbeddingLoraAdapter}) gets the same sum, transposed; the table must be a variable or
 * constant, whose shape is known when the gradient graph is built (an op's output has none
 * then, and falls back to ND4J's derivative). Other axes keep ND4J's derivative.
 */
public final class EmbeddingGather extends Gather {

  /** For SameDiff's reflection. */
  public EmbeddingGather() {}

  /** Maps libnd4j's {@code gather} to this class (idempotent). */
  public static void register() {
    OpOverrides.register("gather", EmbeddingGather.class);
  }

  @Override
  public List<SDVariable> doDiff(List<SDVariable> gradients) {
    SDVariable table = arg(0);
    long[] shape = table.getShape();
    if ((jaxis != 0 && jaxis != 1) || shape == null || shape.length != 2) {
      return super.doDiff(gradients);
    }
    SDVariable ids = arg(1);
    SDVariable flatIds = sameDiff.reshape(ids, -1); // [n]
    SDVariable dTable;
    if (jaxis == 0) {
      SDVariable values = sameDiff.reshape(gradients.get(0), -1, shape[1]); // [n, d]
      dTable = sameDiff.unsortedSegmentSum(values, flatIds, (int) shape[0]); // [vocab, d]
    } else {
      // columns of a table [r, vocab] (an embedding adapter's A): the same sum, transposed
      SDVariable values = sameDiff.transpose(sameDiff.reshape(gradients.get(0), shape[0], -1)); // [n, r]
      dTable = sameDiff.transpose(sameDiff.unsortedSegmentSum(values, flatIds, (int) shape[1])); // [r, vocab]
    }
    return List.of(dTable, sameDiff.zerosLike(ids));
  }
}
