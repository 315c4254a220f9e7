package dev.loraj.core.model.onnx;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.loraj.core.fuzz.FuzzInvariant;
import java.nio.ByteBuffer;

/**
 * Fuzz target for the ONNX reader (the hand-written protobuf wire-format parser and the
 * tensors it lifts): any bytes either parse to a model whose every initializer and constant
 * either yields its values or refuses with an {@link OnnxFormatException}, or fail to parse with
 * one. The element count is bounded by the input (a tensor's data is in the file), so no input
 * allocates more than a few times its own size.
 */
class OnnxFuzzTest {

  @FuzzTest
  void model(byte[] data) {
    OnnxModel m;
    try {
      m = OnnxModel.parse(ByteBuffer.wrap(data));
    } catch (OnnxFormatException e) {
      FuzzInvariant.requireMessage(e);
      return;
    }
    for (OnnxTensor t : m.initializers().values()) {
      values(t, data.length);
    }
    for (OnnxNode node : m.nodes()) {
      node.tensors().values().forEach(t -> values(t, data.length));
      for (String out : node.outputs()) {
        m.producer(out);
        m.constant(out);
      }
      for (String in : node.inputs()) {
        m.consumers(in);
      }
    }
  }

  private static void values(OnnxTensor t, int inputBytes) {
    try {
      long n;
      if (t.dataType() == OnnxTensor.FLOAT) {
        n = t.toFloatArray().length;
      } else if (t.dataType() == OnnxTensor.INT64) {
        n = t.toLongArray().length;
      } else {
        t.elementCount(); // other types are not lifted; their shape is still checked
        return;
      }
      if (n > inputBytes) {
        throw new AssertionError("tensor " + t.name() + " yields " + n + " values from " + inputBytes + " bytes");
      }
    } catch (OnnxFormatException e) {
      FuzzInvariant.requireMessage(e);
    }
  }
}
