package dev.loraj.core.model.onnx;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.ndarray.INDArray;

/** The wire-format reader and the MatMul/Gemm weight naming on a hand-encoded tiny ModelProto. */
class OnnxModelTest {

  /** A protobuf encoder for tests (field numbers from onnx.proto). */
  static final class Msg {
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();

    Msg varint(int field, long v) {
      tag(field, 0);
      raw(v);
      return this;
    }

    Msg bytes(int field, byte[] b) {
      tag(field, 2);
      raw(b.length);
      out.writeBytes(b);
      return this;
    }

    Msg string(int field, String s) {
      return bytes(field, s.getBytes(StandardCharsets.UTF_8));
    }

    Msg msg(int field, Msg m) {
      return bytes(field, m.out.toByteArray());
    }

    Msg packedVarints(int field, long... vs) {
      Msg p = new Msg();
      for (long v : vs) {
        p.raw(v);
      }
      return bytes(field, p.out.toByteArray());
    }

    Msg packedFloats(int field, float... vs) {
      ByteBuffer b = ByteBuffer.allocate(vs.length * 4).order(ByteOrder.LITTLE_ENDIAN);
      for (float v : vs) {
        b.putFloat(v);
      }
      return bytes(field, b.array());
    }

    private void tag(int field, int wire) {
      raw(((long) field << 3) | wire);
    }

    private void raw(long v) {
      while ((v & ~0x7FL) != 0) {
        out.write((int) ((v & 0x7F) | 0x80));
        v >>>= 7;
      }
      out.write((int) v);
    }

    byte[] toBytes() {
      return out.toByteArray();
    }
  }

  static Msg floatTensorRaw(String name, long[] dims, float... values) {
    ByteBuffer b = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
    for (float v : values) {
      b.putFloat(v);
    }
    return new Msg().packedVarints(1, dims).varint(2, OnnxTensor.FLOAT).string(8, name).bytes(9, b.array());
  }

  static Msg node(String name, String op, String[] in, String out) {
    Msg n = new Msg();
    for (String i : in) {
      n.string(1, i);
    }
    return n.string(2, out).string(3, name).string(4, op);
  }

  static byte[] tinyModel() {
    Msg graph = new Msg()
        // y = x W^T + b with W^T [in 2, out 3] stored under an anonymous name
        .msg(1, node("/lin/MatMul", "MatMul", new String[] {"x", "onnx::MatMul_1"}, "m"))
        .msg(1, node("/lin/Add", "Add", new String[] {"lin.bias", "m"}, "y"))
        // Gemm with transB = 1: weight already [out 4, in 2]
        .msg(1, node("/head/Gemm", "Gemm", new String[] {"x", "onnx::Gemm_2", "head.bias"}, "z")
            .msg(5, new Msg().string(1, "transB").varint(3, 1).varint(20, 2)))
        // no bias: named from the node's module path
        .msg(1, node("/enc/proj/MatMul", "MatMul", new String[] {"x", "onnx::MatMul_3"}, "p"))
        .msg(5, floatTensorRaw("onnx::MatMul_1", new long[] {2, 3}, 1, 2, 3, 4, 5, 6))
        // float_data (field 4) with non-packed dims
        .msg(5, new Msg().varint(1, 3).varint(2, OnnxTensor.FLOAT).packedFloats(4, .1f, .2f, .3f)
            .string(8, "lin.bias"))
        .msg(5, floatTensorRaw("onnx::Gemm_2", new long[] {4, 2}, 0, 1, 2, 3, 4, 5, 6, 7))
        .msg(5, floatTensorRaw("head.bias", new long[] {4}, 0, 0, 0, 0))
        .msg(5, floatTensorRaw("onnx::MatMul_3", new long[] {2, 1}, 8, 9))
        .msg(5, new Msg().packedVarints(1, 2).varint(2, OnnxTensor.INT64).string(8, "ids")
            .packedVarints(7, 0, 1))
        .msg(11, new Msg().string(1, "x"))
        .msg(12, new Msg().string(1, "y"));
    return new Msg().varint(1, 8).string(2, "test").msg(7, graph).toBytes();
  }

  @Test
  void parsesNodesInitializersAndAttributes() {
    OnnxModel m = OnnxModel.parse(ByteBuffer.wrap(tinyModel()));
    assertThat(m.nodes()).extracting(OnnxNode::opType).containsExactly("MatMul", "Add", "Gemm", "MatMul");
    assertThat(m.nodes().get(2).intAttribute("transB", 0)).isEqualTo(1);
    assertThat(m.initializers()).containsKeys("onnx::MatMul_1", "lin.bias", "ids");
    assertThat(m.initializers().get("lin.bias").dims()).containsExactly(3);
    assertThat(m.initializers().get("lin.bias").toFloatArray()).containsExactly(.1f, .2f, .3f);
    assertThat(m.initializers().get("ids").toLongArray()).containsExactly(0, 1);
    assertThat(m.graphInputs()).containsExactly("x");
    assertThat(m.graphOutputs()).containsExactly("y");
    assertThat(m.consumers("m")).extracting(OnnxNode::opType).containsExactly("Add");
    assertThat(m.producer("y")).get().extracting(OnnxNode::name).isEqualTo("/lin/Add");
  }

  @Test
  void namesMatMulAndGemmWeightsAndRestoresTorchLayout() {
    Map<String, INDArray> w = OnnxBertImporter.huggingFaceWeights(
        OnnxModel.parse(ByteBuffer.wrap(tinyModel())));
    assertThat(w.keySet()).containsExactly(
        "lin.weight", "lin.bias", "head.weight", "head.bias", "enc.proj.weight");
    // stored W^T = [[1, 2, 3], [4, 5, 6]] ([in, out]) -> W = [[1, 4], [2, 5], [3, 6]]
    assertThat(w.get("lin.weight").shape()).containsExactly(3, 2);
    assertThat(w.get("lin.weight").toFloatMatrix()).isEqualTo(new float[][] {{1, 4}, {2, 5}, {3, 6}});
    assertThat(w.get("head.weight").shape()).containsExactly(4, 2); // Gemm transB: unchanged
    assertThat(w.get("head.weight").getFloat(3, 1)).isEqualTo(7f);
    assertThat(w.get("enc.proj.weight").shape()).containsExactly(1, 2);
  }

  @Test
  void refusesTruncatedInput() {
    byte[] bytes = tinyModel();
    ByteBuffer truncated = ByteBuffer.wrap(bytes, 0, bytes.length - 10).slice();
    assertThatThrownBy(() -> OnnxModel.parse(truncated))
        .hasMessageContaining("truncated or corrupt");
  }
}
