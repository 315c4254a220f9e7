package dev.loraj.core.model.onnx;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * The parts of an ONNX model (https://github.com/onnx/onnx/blob/main/onnx/onnx.proto) needed to
 * lift its weights: the graph's nodes, initializers and input/output names, read with a
 * hand-written wire-format parser ({@link ProtoReader}); no protobuf runtime, no ONNX Runtime.
 *
 * <p>Field numbers used: {@code ModelProto.graph = 7}; {@code GraphProto}: node 1, initializer 5,
 * input 11, output 12; {@code NodeProto}: input 1, output 2, name 3, op_type 4, attribute 5;
 * {@code AttributeProto}: name 1, f 2, i 3, t 5; {@code TensorProto}: dims 1, data_type 2,
 * float_data 4, int64_data 7, name 8, raw_data 9, data_location 14 (EXTERNAL = 1 is refused).
 * {@code ValueInfoProto.name = 1}.
 *
 * <p>The tensors keep views into the file's bytes, so a model holds its whole file in memory
 * until it is dropped.
 */
public final class OnnxModel {

  private final List<OnnxNode> nodes;
  private final Map<String, OnnxTensor> initializers;
  private final List<String> graphInputs;
  private final List<String> graphOutputs;
  private final Map<String, OnnxNode> producers = new HashMap<>();
  private final Map<String, List<OnnxNode>> consumers = new HashMap<>();

  private OnnxModel(List<OnnxNode> nodes, Map<String, OnnxTensor> initializers,
      List<String> graphInputs, List<String> graphOutputs) {
    this.nodes = List.copyOf(nodes);
    this.initializers = Collections.unmodifiableMap(initializers);
    this.graphInputs = List.copyOf(graphInputs);
    this.graphOutputs = List.copyOf(graphOutputs);
    for (OnnxNode node : nodes) {
      for (String out : node.outputs()) {
        producers.put(out, node);
      }
      for (String in : node.inputs()) {
        if (!in.isEmpty()) {
          consumers.computeIfAbsent(in, k -> new ArrayList<>()).add(node);
        }
      }
    }
  }

  public static OnnxModel read(Path file) throws IOException {
    return parse(ByteBuffer.wrap(Files.readAllBytes(file)));
  }

  /** Reads the whole stream (does not close it). */
  public static OnnxModel read(InputStream in) throws IOException {
    return parse(ByteBuffer.wrap(in.readAllBytes()));
  }

  /** Parses a serialized {@code ModelProto}; the model keeps views into {@code bytes}. */
  public static OnnxModel parse(ByteBuffer bytes) {
    ProtoReader model = new ProtoReader(bytes);
    ProtoReader graph = null;
    while (model.next()) {
      if (model.field() == 7 && model.wireType() == ProtoReader.LENGTH_DELIMITED) {
        graph = model.readMessage();
      } else {
        model.skip();
      }
    }
    if (graph == null) {
      throw new OnnxFormatException(
          "ONNX: ModelProto has no graph (field 7); is this an .onnx model file?");
    }
    List<OnnxNode> nodes = new ArrayList<>();
    Map<String, OnnxTensor> initializers = new LinkedHashMap<>();
    List<String> inputs = new ArrayList<>();
    List<String> outputs = new ArrayList<>();
    while (graph.next()) {
      switch (graph.field()) {
        case 1 -> nodes.add(readNode(graph.readMessage()));
        case 5 -> {
          OnnxTensor t = readTensor(graph.readMessage());
          if (initializers.put(t.name(), t) != null) {
            throw new OnnxFormatException("ONNX: initializer '" + t.name() + "' appears twice");
          }
        }
        case 11 -> inputs.add(readValueInfoName(graph.readMessage()));
        case 12 -> outputs.add(readValueInfoName(graph.readMessage()));
        default -> graph.skip();
      }
    }
    return new OnnxModel(nodes, initializers, inputs, outputs);
  }

  public List<OnnxNode> nodes() {
    return nodes;
  }

  /** Initializers by name, in file order. */
  public Map<String, OnnxTensor> initializers() {
    return initializers;
  }

  /** Graph input names (ONNX IR &lt; 4 also lists initializers here). */
  public List<String> graphInputs() {
    return graphInputs;
  }

  public List<String> graphOutputs() {
    return graphOutputs;
  }

  /** The node whose output is {@code tensor}, if any (initializers and graph inputs have none). */
  public Optional<OnnxNode> producer(String tensor) {
    return Optional.ofNullable(producers.get(tensor));
  }

  /** Nodes reading {@code tensor}, in graph order. */
  public List<OnnxNode> consumers(String tensor) {
    return consumers.getOrDefault(tensor, List.of());
  }

  /** The tensor's constant value: an initializer or the output of a {@code Constant} node. */
  public Optional<OnnxTensor> constant(String tensor) {
    OnnxTensor init = initializers.get(tensor);
    if (init != null) {
      return Optional.of(init);
    }
    OnnxNode node = producers.get(tensor);
    if (node != null && node.opType().equals("Constant") && node.tensors().containsKey("value")) {
      return Optional.of(node.tensors().get("value"));
    }
    return Optional.empty();
  }

  /** Every FLOAT initializer as a float32 INDArray under its ONNX name (file order). */
  public Map<String, INDArray> floatInitializers() {
    Map<String, INDArray> out = new LinkedHashMap<>();
    for (OnnxTensor t : initializers.values()) {
      if (t.isFloat()) {
        out.put(t.name(), t.toINDArray());
      }
    }
    return out;
  }

  private static OnnxNode readNode(ProtoReader r) {
    String name = "";
    String opType = "";
    List<String> inputs = new ArrayList<>();
    List<String> outputs = new ArrayList<>();
    Map<String, Long> ints = new HashMap<>();
    Map<String, Float> floats = new HashMap<>();
    Map<String, OnnxTensor> tensors = new HashMap<>();
    while (r.next()) {
      switch (r.field()) {
        case 1 -> inputs.add(r.readString());
        case 2 -> outputs.add(r.readString());
        case 3 -> name = r.readString();
        case 4 -> opType = r.readString();
        case 5 -> readAttribute(r.readMessage(), ints, floats, tensors);
        default -> r.skip();
      }
    }
    return new OnnxNode(name, opType, inputs, outputs, ints, floats, tensors);
  }

  private static void readAttribute(ProtoReader r, Map<String, Long> ints,
      Map<String, Float> floats, Map<String, OnnxTensor> tensors) {
    String name = null;
    Long i = null;
    Float f = null;
    OnnxTensor t = null;
    while (r.next()) {
      switch (r.field()) {
        case 1 -> name = r.readString();
        case 2 -> f = r.readFixed32Float();
        case 3 -> i = r.readVarint();
        case 5 -> t = readTensor(r.readMessage());
        default -> r.skip();
      }
    }
    if (name == null) {
      return;
    }
    if (i != null) {
      ints.put(name, i);
    }
    if (f != null) {
      floats.put(name, f);
    }
    if (t != null) {
      tensors.put(name, t);
    }
  }

  private static OnnxTensor readTensor(ProtoReader r) {
    ProtoReader.LongList dims = new ProtoReader.LongList();
    int dataType = 0;
    String name = "";
    ByteBuffer raw = null;
    FloatList floatData = null;
    ProtoReader.LongList int64Data = null;
    long dataLocation = 0;
    while (r.next()) {
      switch (r.field()) {
        case 1 -> r.readInt64s(dims);
        case 2 -> dataType = (int) r.readVarint();
        case 4 -> {
          floatData = floatData == null ? new FloatList() : floatData;
          readFloats(r, floatData);
        }
        case 7 -> int64Data = r.readInt64s(int64Data == null ? new ProtoReader.LongList() : int64Data);
        case 8 -> name = r.readString();
        case 9 -> raw = r.readBytes();
        case 14 -> dataLocation = r.readVarint();
        default -> r.skip();
      }
    }
    if (dataLocation == 1) {
      throw new OnnxFormatException("ONNX: tensor '" + name + "' keeps its data in an external"
          + " file (data_location = EXTERNAL); only self-contained .onnx files are supported");
    }
    return new OnnxTensor(name, dataType, dims.toArray(), raw,
        floatData == null ? null : floatData.toArray(),
        int64Data == null ? null : int64Data.toArray());
  }

  private static void readFloats(ProtoReader r, FloatList out) {
    if (r.wireType() == ProtoReader.LENGTH_DELIMITED) {
      ByteBuffer packed = r.readBytes();
      while (packed.remaining() >= Float.BYTES) {
        out.add(packed.getFloat());
      }
    } else {
      out.add(r.readFixed32Float());
    }
  }

  private static String readValueInfoName(ProtoReader r) {
    String name = "";
    while (r.next()) {
      if (r.field() == 1) {
        name = r.readString();
      } else {
        r.skip();
      }
    }
    return name;
  }

  private static final class FloatList {
    private float[] values = new float[16];
    private int size;

    void add(float v) {
      if (size == values.length) {
        values = java.util.Arrays.copyOf(values, size * 2);
      }
      values[size++] = v;
    }

    float[] toArray() {
      return java.util.Arrays.copyOf(values, size);
    }
  }
}
