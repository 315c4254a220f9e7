package dev.loraj.core.quant;

import dev.loraj.core.adapter.AdapterConfig;
import dev.loraj.core.adapter.AdapterRegistry;
import dev.loraj.core.adapter.AdapterSpec;
import dev.loraj.core.linalg.Svd;
import dev.loraj.core.model.BaseDtype;
import dev.loraj.core.model.BaseModel;
import dev.loraj.core.model.LinearSite;
import dev.loraj.core.model.MlpModel;
import dev.loraj.core.model.PeftModel;
import dev.loraj.core.model.Targets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Quantized frozen bases, composed with any adapter (QLoRA, arXiv 2305.14314: NF4 base + LoRA;
 * NF4 base + DoRA is QDoRA), rather than one subclass per (base kind, adapter) pair.
 *
 * <p><b>Graph integration.</b> A quantized site computes {@code x deq(W)^T} with
 * {@link QuantizedLinearOp}, a Java op that SameDiff executes in both the forward and the
 * gradient graph; it dequantizes {@link DequantBuffer#DEFAULT_CHUNK_ROWS} rows at a time into one
 * buffer per thread and input width, so no float copy of the weight exists at any time (the
 * alternative, dequantizing every site into a float constant before each run, would keep one
 * float copy per site and save no memory at all). Codes never enter the graph: gradients reach
 * the input and the adapters, never the codes. Cost: dequantization runs in Java, once in the
 * forward and once in the backward pass of every step (see {@code QLoraStepMain}).
 *
 * <p><b>Merging.</b> See {@link PeftModel}: merge requantizes (with a warning), unmerge restores
 * the exact quantized weight, {@link PeftModel#mergeAndUnload()} exports float weights. DoRA's
 * norm needs W in the graph: for it a quantized site is dequantized into a graph constant.
 *
 * <p>Order of use: load the model, {@link #quantize} (or add a {@code qlora}/{@code loftq}/
 * {@code qpissa} adapter, which quantizes its own sites), add adapters, train.
 */
public final class QuantizedBase {
  private static final Logger log = LoggerFactory.getLogger(QuantizedBase.class);

  private QuantizedBase() {}

  /**
   * Replaces the dense weights of the sites {@code which} selects by quantized ones; the float
   * arrays leave the model's weights. Sites already held quantized are left as they are
   * (requantizing their dequantized values would add rounding); sites held in 16 bits are
   * quantized from their 16-bit values, a block at a time.
   *
   * @return the paths quantized by this call
   * @throws IllegalStateException if an adapter is merged into the base
   * @throws UnsupportedOperationException if the model family cannot hold quantized weights
   */
  public static List<String> quantize(PeftModel model, QuantFormat format, int blockSize,
      boolean doubleQuant, Targets which) {
    for (String n : model.adapterNames()) {
      if (model.adapter(n).merged()) {
        throw new IllegalStateException("adapter '" + n + "' is merged into the base: unmerge()"
            + " before quantizing, or quantize mergeAndUnload()'s model");
      }
    }
    List<String> done = new ArrayList<>();
    for (LinearSite site : which.resolve(model.base().linearSites())) {
      QuantizedWeight held = model.quantized(site);
      if (held != null && held.format().blockwise()) {
        log.info("'{}' is already quantized ({}); left as it is", site.path(), held);
        continue;
      }
      if (held != null) {
        model.storeQuantized(site, QuantizedWeight.quantize(held.rows(), held.cols(),
            held::readElements, format, blockSize, doubleQuant));
        done.add(site.path());
        continue;
      }
      INDArray w = model.torchLayout(site); // [out, in]
      model.storeQuantized(site, QuantizedWeight.quantize(w, format, blockSize, doubleQuant));
      w.close();
      done.add(site.path());
    }
    return done;
  }

  /**
   * Holds every frozen dense linear weight of {@code model} in the 16-bit type {@code dtype}
   * names ({@link BaseDtype#heldFormat()}: nothing for {@code auto} and {@code f32}, whose
   * in-memory weights are float32), one weight at a time. Trainable base weights (heads,
   * modules to save, full fine-tuning) and weights already quantized are left as they are. For
   * models built in memory; a checkpoint is better read that way ({@code HfModels.load}).
   *
   * @return the paths now held in 16 bits
   */
  public static List<String> holdFrozen(PeftModel model, BaseDtype dtype) {
    QuantFormat format = dtype.heldFormat().orElse(null);
    List<String> done = new ArrayList<>();
    if (format == null) {
      return done;
    }
    for (LinearSite site : model.base().linearSites()) {
      if (model.quantized(site) != null || model.trainableBase().contains(site.weightName())
          || !model.base().weights().containsKey(site.weightName())) {
        continue;
      }
      INDArray w = model.torchLayout(site); // [out, in]
      model.storeQuantized(site, QuantizedWeight.quantize(w, format, QuantizedWeight.DEFAULT_BLOCK_SIZE,
          false));
      w.close();
      done.add(site.path());
    }
    return done;
  }

  /** {@link #quantize} with QLoRA's settings: NF4, block size 64, double quantization. */
  public static List<String> quantizeNf4(PeftModel model, Targets which) {
    return quantize(model, QuantFormat.NF4, QuantizedWeight.DEFAULT_BLOCK_SIZE, true, which);
  }

  /** Bytes of the model's dense (float) weight arrays: length times element size. */
  public static long denseBytes(BaseModel model) {
    return model.weights().values().stream()
        .mapToLong(a -> a.length() * a.dataType().width())
        .sum();
  }

  /** Bytes of the model's quantized weights (codes and scales, {@link QuantizedWeight#storageBytes()}). */
  public static long quantizedBytes(BaseModel model) {
    return model.quantizedWeights().values().stream().mapToLong(QuantizedWeight::storageBytes).sum();
  }

  /** The nuclear norm {@code ||M||_* = sum of singular values} (LAPACK sgesdd). */
  public static double nuclearNorm(INDArray m) {
    return java.util.Arrays.stream(Svd.singularValues(m)).sum(); // double precision: see Svd
  }

  /**
   * The quantization-error reduction ratio of PiSSA (arXiv 2404.02948, section 4, eq. in
   * "quantization error"), {@code 1 - ||W - (deq(q(W')) + s B A)||_* / ||W - deq(q(W))||_*}:
   * 0 for QLoRA (W' = W, B = 0), larger is better.
   *
   * @param w the original weight [out, in]
   * @param base the quantized base the adapter sits on, deq(q(W'))
   * @param delta the adapter's {@code s B A} at init [out, in]
   * @param plain {@code q(W)}: W quantized with the same settings
   */
  public static double errorReductionRatio(INDArray w, QuantizedWeight base, INDArray delta,
      QuantizedWeight plain) {
    INDArray adapted = w.sub(base.dequantize()).subi(delta); // W - (deq(q(W')) + s B A)
    INDArray qlora = w.sub(plain.dequantize());             // W - deq(q(W))
    return 1 - nuclearNorm(adapted) / nuclearNorm(qlora);
  }

  /** An adapter's quantized base deq(q(W')) and its {@code s B A} at init, for one matrix W. */
  public record Adapted(QuantizedWeight base, INDArray delta) {}

  /**
   * Initialises an adapter of {@code config} on a one-layer model holding W [out, in] (zero bias,
   * no activation) and returns its quantized base and initial delta: the inputs of
   * {@link #errorReductionRatio} for one matrix.
   */
  public static Adapted adaptOneMatrix(INDArray w, AdapterConfig config, AdapterRegistry registry) {
    int out = Math.toIntExact(w.size(0));
    int in = Math.toIntExact(w.size(1));
    Map<String, INDArray> weights = new LinkedHashMap<>();
    weights.put("layers.0.weight", w.dup());
    weights.put("layers.0.bias", Nd4j.zeros(DataType.FLOAT, out));
    MlpModel m = new MlpModel(List.of(in, out), MlpModel.Activation.NONE, false, weights);
    PeftModel pm = new PeftModel(m, registry);
    pm.addAdapter("default", new AdapterSpec(config, Targets.allLinear()), 1);
    LinearSite site = m.linearSites().get(0);
    return new Adapted(pm.quantized(site), pm.adapter("default").sites().get(site.path()).deltaWeight());
  }
}
