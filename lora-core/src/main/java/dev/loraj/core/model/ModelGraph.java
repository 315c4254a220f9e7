package dev.loraj.core.model;

import dev.loraj.core.graph.FrozenAdd;
import dev.loraj.core.graph.FrozenMatMul;
import dev.loraj.core.quant.QuantizedLinearOp;
import dev.loraj.core.quant.QuantizedWeight;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * The graph under construction for one base model: model families ask it for weights and route
 * every linear layer through {@link #linear}, where the frozen matmul and the active adapters'
 * branches are assembled.
 *
 * <p>Frozen weights become SameDiff constants (no gradient, no optimizer state); the names in
 * {@code trainableBase} (a classification head, or everything under full fine-tuning) become
 * variables. Linear-site inputs are 2-D [rows, in].
 *
 * <p>A site whose weight the model holds quantized ({@link BaseModel#quantizedWeights()})
 * computes {@code x deq(W)^T} with {@link QuantizedLinearOp}: dequantized chunk by chunk in
 * Java, never as a whole float copy, with a backward pass to x only.
 */
public final class ModelGraph {

  /** Adds adapter branches at a site; returns the site's final output. */
  @FunctionalInterface
  public interface SiteHook {
    SDVariable apply(ModelGraph graph, LinearSite site, SDVariable x, SDVariable baseOut);
  }

  /** Computes a site's frozen output when the base weight is not a plain dense array. */
  @FunctionalInterface
  public interface BaseLinear {
    /** Returns {@code x W^T} (no bias) for the site, or {@code null} to use the dense weight. */
    SDVariable apply(ModelGraph graph, LinearSite site, SDVariable x);
  }

  private final SameDiff sd;
  private final BaseModel model;
  private final Set<String> trainableBase;
  private final boolean training;
  private final SiteHook hook;
  private final BaseLinear baseLinear;
  private final Map<String, SDVariable> weightVars = new HashMap<>();
  private final Map<String, LinearSite> sites = new LinkedHashMap<>();
  private final List<Set<String>> blocks = new ArrayList<>();
  /** Op names that existed when the open block began; null when no block is open. */
  private Set<String> opsBeforeBlock;
  private final Map<String, INDArray> replaced;
  /** Input and output of the {@link #linear} calls that are a frozen {@code x W^T} alone, by site path. */
  private final Map<String, List<SDVariable>> plainLinears = new HashMap<>();

  /**
   * @param replaced base tensors computed with other arrays of the same shape (an adapter's own
   *     copy of a {@code modules_to_save} module); empty for the base as it is
   */
  public ModelGraph(
      SameDiff sd,
      BaseModel model,
      Set<String> trainableBase,
      boolean training,
      SiteHook hook,
      BaseLinear baseLinear,
      Map<String, INDArray> replaced) {
    this.replaced = replaced;
    this.sd = sd;
    this.model = model;
    this.trainableBase = trainableBase;
    this.training = training;
    this.hook = hook;
    this.baseLinear = baseLinear;
    FrozenMatMul.register();
    dev.loraj.core.graph.EmbeddingGather.register();
    for (LinearSite s : model.adapterSites()) {
      sites.put(s.path(), s);
    }
  }

  public SameDiff sd() {
    return sd;
  }

  public boolean training() {
    return training;
  }

  public BaseModel model() {
    return model;
  }

  public boolean hasWeight(String name) {
    return model.weights().containsKey(name) || model.quantizedWeights().containsKey(name);
  }

  /** The weight {@code name}: a constant when frozen, a variable when trainable. */
  public SDVariable weight(String name) {
    SDVariable v = weightVars.get(name);
    if (v != null) {
      return v;
    }
    INDArray array = replaced.getOrDefault(name, model.weights().get(name));
    if (array == null && model.quantizedWeights().containsKey(name)) {
      array = dequantizedStored(name);
    }
    if (array == null) {
      throw new IllegalArgumentException(
          "model " + model.family() + " has no weight '" + name + "'");
    }
    v = trainableBase.contains(name) ? sd.var(name, array) : sd.constant(name, array);
    weightVars.put(name, v);
    return v;
  }

  /**
   * A quantized weight asked for as a dense tensor (DoRA's weight norm needs W itself): its
   * dequantization in the stored layout, a float copy held by the graph as a constant. Sites
   * reached only through {@link #linear} never make this copy.
   */
  private INDArray dequantizedStored(String name) {
    if (trainableBase.contains(name)) {
      throw new IllegalStateException("weight '" + name + "' is quantized and cannot be trained;"
          + " dequantize it (PeftModel.storeTorchLayout of a float copy) first");
    }
    INDArray w = model.quantizedWeights().get(name).dequantize(); // the held layout
    for (LinearSite s : sites.values()) {
      if (s.weightName().equals(name) && s.heldTransposed()) {
        return w.transpose().dup('c'); // stored [in, out]
      }
    }
    return w;
  }

  /**
   * Starts a transformer block (closing the open one, if any): the ops added until the next
   * {@link #beginBlock} or {@link #endBlock} form it. Blocks are the unit of gradient
   * checkpointing: a training step that recomputes them keeps only the values that cross block
   * boundaries during its forward pass (see {@code Trainer#checkpointing}). A family marks each
   * layer of its stack; what it builds outside blocks (embeddings, head, loss) is kept as usual.
   */
  public void beginBlock() {
    endBlock();
    opsBeforeBlock = new HashSet<>(sd.getOps().keySet());
  }

  /** Closes the open block (no-op when none is open). */
  public void endBlock() {
    if (opsBeforeBlock == null) {
      return;
    }
    Set<String> ops = new LinkedHashSet<>();
    for (String name : sd.getOps().keySet()) {
      if (!opsBeforeBlock.contains(name)) {
        ops.add(name);
      }
    }
    blocks.add(Collections.unmodifiableSet(ops));
    opsBeforeBlock = null;
  }

  /** The op names of each block marked so far, in model order (see {@link #beginBlock}). */
  public List<Set<String>> blocks() {
    endBlock();
    return List.copyOf(blocks);
  }

  public boolean isTrainable(String weightName) {
    return trainableBase.contains(weightName);
  }

  public SDVariable placeholder(String name, DataType type, long... shape) {
    return sd.placeHolder(name, type, shape);
  }

  /**
   * The rows of embedding table {@code path} ({@link BaseModel#embeddingSites()}) for token ids
   * {@code ids} [batch, seq], as [batch * seq, dim], plus the adapters of this site, which are
   * handed the ids as their input.
   */
  public SDVariable embedding(String path, SDVariable ids) {
    LinearSite site = sites.get(path);
    if (site == null || !site.embedding()) {
      throw new IllegalArgumentException(
          "model " + model.family() + " declares no embedding site '" + path + "'");
    }
    QuantizedWeight held = model.quantizedWeights().get(site.weightName()); // [vocab, dim]
    SDVariable rows = held != null ? QuantizedLinearOp.rows(sd, ids, held)
        : sd.gather(weight(site.weightName()), ids, 0);
    SDVariable out = sd.reshape(rows, -1, site.out());
    return hook == null ? out : hook.apply(this, site, ids, out);
  }

  /** {@code y = x W^T + b} plus the adapters of this site; x is [rows, in]. */
  public SDVariable linear(String path, SDVariable x) {
    LinearSite site = sites.get(path);
    if (site == null || site.embedding()) {
      throw new IllegalArgumentException(
          "model " + model.family() + " declares no linear site '" + path + "'");
    }
    SDVariable out = baseLinear == null ? null : baseLinear.apply(this, site, x);
    boolean plain = out == null && !site.hasBias(); // a frozen (or trainable) x W^T alone so far
    QuantizedWeight quantized = model.quantizedWeights().get(site.weightName());
    if (out == null && quantized != null) {
      out = QuantizedLinearOp.apply(sd, x, quantized); // [rows, in] x [in, out], chunked
    }
    if (out == null) {
      SDVariable w = weight(site.weightName());
      out = isTrainable(site.weightName())
          ? sd.mmul(x, w, false, !site.fanInFanOut(), false)
          : FrozenMatMul.apply(sd, x, w, !site.fanInFanOut()); // [rows, in] x [in, out]
    }
    if (site.hasBias()) {
      out = FrozenAdd.byWeight(sd, out, weight(site.biasName()));
    }
    SDVariable y = hook == null ? out : hook.apply(this, site, x, out);
    if (plain && y == out && !isTrainable(site.weightName()) && !site.fanInFanOut()) {
      plainLinears.put(path, List.of(x, y));
    }
    return y;
  }

  /**
   * The output of a language-model head tied to the token table {@code table}: the logits
   * {@code h table^T} [n, vocab], and, when the table is a frozen float32 array, the frozen head
   * a loss may compute in its own way ({@link ModelOutput#head()}).
   */
  public ModelOutput tiedHead(String table, SDVariable h, List<String> inputs) {
    SDVariable w = weight(table);
    boolean trainable = isTrainable(table);
    SDVariable logits = trainable
        ? sd.mmul(h, w, false, true, false)
        : FrozenMatMul.apply(sd, h, w, true); // [n, e] x [e, vocab]
    return new ModelOutput(logits, inputs,
        trainable || w.dataType() != DataType.FLOAT ? null : new ModelOutput.FrozenHead(h, null, w));
  }

  /**
   * The frozen head behind {@code y = linear(path, x)} when {@code y} is exactly {@code x W^T}
   * for the site's frozen weight W [out, in] (no bias, no adapter, no trainable or replaced
   * computation), so that a loss may compute it in its own way; {@code null} otherwise.
   */
  public ModelOutput.FrozenHead frozenHead(String path, SDVariable x, SDVariable y) {
    List<SDVariable> plainXY = plainLinears.get(path);
    if (plainXY == null || plainXY.get(0) != x || plainXY.get(1) != y) {
      return null;
    }
    String name = sites.get(path).weightName();
    QuantizedWeight held = model.quantizedWeights().get(name);
    if (held != null) {
      return new ModelOutput.FrozenHead(x, held, null);
    }
    SDVariable w = weight(name);
    return w.dataType() == DataType.FLOAT ? new ModelOutput.FrozenHead(x, null, w) : null;
  }
}
