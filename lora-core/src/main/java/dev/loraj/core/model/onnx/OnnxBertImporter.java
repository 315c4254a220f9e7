package dev.loraj.core.model.onnx;

import dev.loraj.core.model.bert.BertCheckpoint;
import dev.loraj.core.model.bert.BertConfig;
import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.Deque;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Lifts a BERT encoder exported to ONNX by {@code torch.onnx.export} (as Hugging Face Optimum
 * does) back to Hugging Face tensor names and torch layouts, and derives its {@link BertConfig}
 * from the graph.
 *
 * <p>The exporter keeps parameter names for biases, LayerNorms and embeddings but replaces each
 * {@code nn.Linear} by {@code MatMul(x, W^T) + b}, storing {@code W^T} [in, out] under an
 * anonymous name such as {@code onnx::MatMul_787}. A MatMul's weight is therefore named by
 * following the graph: the {@code Add} that consumes the MatMul's output also reads the bias
 * initializer {@code <module>.bias}, so the weight is {@code <module>.weight}, transposed back
 * to [out, in]. When no bias is found, the module path in the node's name
 * ({@code /encoder/layer.0/attention/self/query/MatMul}) names it. {@code Gemm} nodes are read
 * the same way, honouring {@code transB}.
 *
 * <p>Config fields not visible in shapes are read from constants the export leaves in the
 * graph: the attention scale {@code sqrt(head_size)} (the Div before the first Softmax) gives the
 * number of heads, the constant added to the variance before {@code Sqrt} (or a
 * {@code LayerNormalization} node's {@code epsilon}) gives {@code layer_norm_eps}, and an
 * {@code Erf} (or {@code Gelu}) node gives {@code hidden_act = "gelu"}.
 */
public final class OnnxBertImporter {

  private static final Pattern LAYER = Pattern.compile("^encoder\\.layer\\.(\\d+)\\.");

  private OnnxBertImporter() {}

  /** Converts and validates (every expected tensor present with its shape). */
  public static BertCheckpoint convert(OnnxModel model) {
    Map<String, INDArray> weights = huggingFaceWeights(model);
    BertConfig config = deriveConfig(model, weights);
    BertCheckpoint checkpoint = new BertCheckpoint(config, weights);
    checkpoint.validate();
    return checkpoint;
  }

  /**
   * Every FLOAT initializer under its Hugging Face name; Linear weights transposed to [out, in]
   * ('c' order copies).
   *
   * @throws IllegalArgumentException if an anonymous ({@code onnx::}) initializer cannot be named
   */
  public static Map<String, INDArray> huggingFaceWeights(OnnxModel model) {
    Map<String, INDArray> out = new LinkedHashMap<>();
    for (OnnxTensor t : model.initializers().values()) {
      if (!t.isFloat()) {
        continue; // e.g. embeddings.position_ids (INT64), a buffer rather than a weight
      }
      Optional<OnnxNode> linear = linearConsumer(model, t.name());
      String name;
      INDArray value;
      if (linear.isPresent()) {
        OnnxNode node = linear.get();
        name = linearModule(model, node, t) + ".weight";
        boolean storedInOut = !node.opType().equals("Gemm") || node.intAttribute("transB", 0) == 0;
        // [in, out] -> [out, in]
        value = storedInOut ? t.toTransposedINDArray() : t.toINDArray();
      } else if (t.name().startsWith("onnx::")) {
        throw new IllegalArgumentException("ONNX initializer '" + t.name() + "' "
            + Arrays.toString(t.dims()) + " has no Hugging Face name and is not the weight of a"
            + " MatMul/Gemm; cannot map it");
      } else {
        name = t.name();
        value = t.toINDArray();
      }
      if (out.put(name, value) != null) {
        throw new IllegalArgumentException("ONNX initializers map twice to '" + name
            + "' (second: '" + t.name() + "')");
      }
    }
    return out;
  }

  /** The config, from the weights' shapes and the graph's constants. */
  public static BertConfig deriveConfig(OnnxModel model, Map<String, INDArray> weights) {
    long[] word = shape(weights, "embeddings.word_embeddings.weight");
    int hidden = (int) word[1];
    int layers = 0;
    for (String name : weights.keySet()) {
      Matcher m = LAYER.matcher(name);
      if (m.find()) {
        layers = Math.max(layers, Integer.parseInt(m.group(1)) + 1);
      }
    }
    if (layers == 0) {
      throw new IllegalArgumentException("ONNX BERT: no 'encoder.layer.<i>.' tensors found");
    }
    int intermediate = (int) shape(weights, "encoder.layer.0.intermediate.dense.weight")[0];
    int headSize = attentionHeadSize(model);
    if (hidden % headSize != 0) {
      throw new IllegalArgumentException("ONNX BERT: attention head size " + headSize
          + " (from the score scale) does not divide hidden size " + hidden);
    }
    return new BertConfig(
        (int) word[0],
        hidden,
        layers,
        hidden / headSize,
        intermediate,
        activation(model),
        (int) shape(weights, "embeddings.position_embeddings.weight")[0],
        (int) shape(weights, "embeddings.token_type_embeddings.weight")[0],
        layerNormEps(model),
        0.1, // HF defaults: dropout is not part of an inference export
        0.1);
  }

  private static Optional<OnnxNode> linearConsumer(OnnxModel model, String tensor) {
    for (OnnxNode node : model.consumers(tensor)) {
      boolean isMatMul = node.opType().equals("MatMul") || node.opType().equals("Gemm");
      if (isMatMul && node.input(1).equals(tensor)) {
        return Optional.of(node);
      }
    }
    return Optional.empty();
  }

  /** The module path ({@code encoder.layer.0.attention.self.query}) of a MatMul/Gemm. */
  private static String linearModule(OnnxModel model, OnnxNode node, OnnxTensor weight) {
    if (node.opType().equals("Gemm") && node.input(2).endsWith(".bias")) {
      return stripSuffix(node.input(2), ".bias");
    }
    for (String out : node.outputs()) {
      for (OnnxNode add : model.consumers(out)) {
        if (!add.opType().equals("Add")) {
          continue;
        }
        for (String in : add.inputs()) {
          if (!in.equals(out) && in.endsWith(".bias") && model.initializers().containsKey(in)) {
            return stripSuffix(in, ".bias");
          }
        }
      }
    }
    // fall back to the exporter's node name: "/encoder/layer.0/attention/self/query/MatMul"
    String path = node.name();
    int slash = path.lastIndexOf('/');
    if (path.startsWith("/") && slash > 0) {
      return path.substring(1, slash).replace('/', '.');
    }
    throw new IllegalArgumentException("ONNX initializer '" + weight.name() + "' feeds "
        + node.opType() + " node '" + node.name() + "' with neither a '<module>.bias' Add nor a"
        + " module path in the node name; cannot name it");
  }

  /**
   * head_size = scale^2, where the first Softmax's scores are {@code QK^T / scale}
   * (scale = sqrt(head_size), Vaswani et al. eq. 1) or {@code QK^T * (1/scale)}.
   */
  private static int attentionHeadSize(OnnxModel model) {
    OnnxNode softmax = model.nodes().stream().filter(n -> n.opType().equals("Softmax")).findFirst()
        .orElseThrow(() -> new IllegalArgumentException("ONNX BERT: no Softmax node; cannot"
            + " find the attention scale"));
    Deque<String> todo = new ArrayDeque<>(softmax.inputs());
    Set<String> seen = new HashSet<>();
    while (!todo.isEmpty() && seen.size() < 64) {
      String tensor = todo.pop();
      if (!seen.add(tensor)) {
        continue;
      }
      Optional<OnnxNode> producer = model.producer(tensor);
      if (producer.isEmpty()) {
        continue;
      }
      OnnxNode node = producer.get();
      Optional<OnnxTensor> c = model.constant(node.input(1)).filter(t -> t.elementCount() == 1);
      if (c.isPresent() && c.get().isFloat()
          && (node.opType().equals("Div") || node.opType().equals("Mul"))) {
        double scale = c.get().scalarFloat();
        double squared = node.opType().equals("Div") ? scale * scale : 1 / (scale * scale);
        long headSize = Math.round(squared);
        if (headSize > 0 && Math.abs(squared - headSize) < 1e-3 * headSize) {
          return (int) headSize;
        }
      }
      todo.addAll(node.inputs());
    }
    throw new IllegalArgumentException("ONNX BERT: no constant Div/Mul by sqrt(head_size) found"
        + " before the first Softmax; cannot derive num_attention_heads");
  }

  /** epsilon of the first LayerNorm: {@code LayerNormalization.epsilon} or Sqrt(var + eps). */
  private static double layerNormEps(OnnxModel model) {
    for (OnnxNode node : model.nodes()) {
      if (node.opType().equals("LayerNormalization")) {
        return tidy(node.floats().getOrDefault("epsilon", 1e-5f));
      }
      if (node.opType().equals("Sqrt")) {
        Optional<OnnxNode> add = model.producer(node.input(0))
            .filter(n -> n.opType().equals("Add"));
        if (add.isPresent()) {
          for (String in : add.get().inputs()) {
            Optional<OnnxTensor> c = model.constant(in);
            if (c.isPresent() && c.get().isFloat() && c.get().elementCount() == 1) {
              return tidy(c.get().scalarFloat());
            }
          }
        }
      }
    }
    throw new IllegalArgumentException("ONNX BERT: no LayerNormalization node and no"
        + " Sqrt(variance + eps) pattern; cannot derive layer_norm_eps");
  }

  private static String activation(OnnxModel model) {
    for (OnnxNode node : model.nodes()) {
      if (node.opType().equals("Erf") || node.opType().equals("Gelu")) {
        return "gelu";
      }
    }
    for (OnnxNode node : model.nodes()) {
      if (node.opType().equals("Relu")) {
        return "relu";
      }
    }
    throw new IllegalArgumentException("ONNX BERT: found neither Erf/Gelu nor Relu nodes; the"
        + " FFN activation is not one of " + BertConfig.ACTIVATIONS);
  }

  /** A float32 constant as the decimal the exporter was given (1e-12f -> 1e-12, not 9.99e-13). */
  private static double tidy(float value) {
    return Double.parseDouble(Float.toString(value));
  }

  private static long[] shape(Map<String, INDArray> weights, String name) {
    INDArray w = weights.get(name);
    if (w == null) {
      throw new IllegalArgumentException("ONNX BERT: initializer '" + name + "' not found");
    }
    return w.shape();
  }

  private static String stripSuffix(String s, String suffix) {
    return s.substring(0, s.length() - suffix.length());
  }
}
