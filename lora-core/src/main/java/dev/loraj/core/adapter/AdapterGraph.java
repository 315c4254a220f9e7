package dev.loraj.core.adapter;

import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.ndarray.INDArray;

/** The view of the graph under construction that one adapter at one site gets. */
public interface AdapterGraph {

  SameDiff sd();

  /** The graph variable of one of this adapter's {@link Adapter#parameters()}, by key. */
  SDVariable param(String key);

  /** The graph constant of one of this adapter's {@link Adapter#buffers()}, by key. */
  SDVariable buffer(String key);

  /** A graph constant holding {@code value} (frozen; no gradient). */
  SDVariable constant(String key, INDArray value);

  /** The site's frozen weight as stored (shape as the checkpoint has it). */
  SDVariable baseWeight();

  /** The site's bias, or {@code null}. */
  SDVariable baseBias();

  /** True while building the training graph (dropout active), false for inference. */
  boolean training();

  /** A unique variable name inside this adapter's namespace. */
  String name(String suffix);
}
