package dev.loraj.core.lora;

import dev.loraj.core.adapter.AdapterConfig;
import dev.loraj.core.adapter.AdapterGraph;
import dev.loraj.core.graph.FrozenMatMul;
import dev.loraj.core.model.LinearSite;
import java.util.Map;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * A LoRA branch plus a dense update D [out, in] that the variant accumulates during training
 * (Delta-LoRA's co-update of W, ReLoRA's merged restarts). D lives in the adapter as a frozen
 * buffer instead of being written into W, so the base stays bit-identical and unmerge/disable keep
 * working; the cost is one dense array per site and one extra matmul per forward pass.
 * Forward: {@code x D^T + s B A x}; {@link #deltaWeight()} = {@code D + s B A}.
 */
public abstract class DenseDeltaLoraAdapter extends LoraAdapter {

  private final String bufferKey;
  /** D [out, in], updated in place: the training graph holds this very array. */
  protected final INDArray dense;

  protected DenseDeltaLoraAdapter(LinearSite site, AdapterConfig config, double scaling, double dropout,
      String bufferKey) {
    super(site, config, scaling, dropout);
    this.bufferKey = bufferKey;
    this.dense = Nd4j.zeros(DataType.FLOAT, site.out(), site.in());
  }

  @Override
  public Map<String, INDArray> buffers() {
    return Map.of(bufferKey, dense);
  }

  @Override
  public SDVariable forward(AdapterGraph g, SDVariable x, SDVariable baseOut) {
    // the graph constant is this very array: updates in afterStep are seen by the next step
    SDVariable viaD = FrozenMatMul.apply(g.sd(), x, g.buffer(bufferKey), true); // [n, in] x [in, out]
    return branch(g, x, g.param(A), g.param(B)).add(viaD);
  }

  @Override
  public java.util.Optional<String> stateBeyondLowRank() {
    return java.util.Optional.of("its accumulated dense update D (buffer '" + bufferKey + "') is part of its"
        + " weight update and is not low rank");
  }

  /** {@code s B A}: [out, r] x [r, in]. */
  public INDArray lowRankDelta() {
    return super.deltaWeight();
  }

  /** {@code D + s B A}: everything this adapter adds to W. */
  @Override
  public INDArray deltaWeight() {
    return lowRankDelta().addi(dense);
  }
}
