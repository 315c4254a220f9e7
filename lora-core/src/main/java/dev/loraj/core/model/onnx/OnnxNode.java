package dev.loraj.core.model.onnx;

import java.util.List;
import java.util.Map;

/**
 * One ONNX {@code NodeProto}: an operator applied to named inputs, producing named outputs.
 *
 * @param name the node's name (the exporter's module path, e.g.
 *     {@code /encoder/layer.0/attention/self/query/MatMul}); may be empty
 * @param opType the operator, e.g. {@code MatMul}, {@code Add}, {@code Gemm}
 * @param inputs input tensor names in operator order ("" for an omitted optional input)
 * @param outputs output tensor names
 * @param ints integer attributes (e.g. Gemm's {@code transB})
 * @param floats float attributes
 * @param tensors tensor attributes (a {@code Constant}'s {@code value})
 */
public record OnnxNode(
    String name,
    String opType,
    List<String> inputs,
    List<String> outputs,
    Map<String, Long> ints,
    Map<String, Float> floats,
    Map<String, OnnxTensor> tensors) {

  public String input(int i) {
    return i < inputs.size() ? inputs.get(i) : "";
  }

  public long intAttribute(String key, long fallback) {
    return ints.getOrDefault(key, fallback);
  }
}
