package dev.loraj.bench.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.loraj.core.lora.Fill;
import dev.loraj.core.model.BaseModel;
import dev.loraj.core.model.HfModels;
import dev.loraj.core.model.LinearSite;
import dev.loraj.core.model.bert.BertCheckpoint;
import dev.loraj.core.model.bert.BertModel;
import dev.loraj.core.model.onnx.MiniLm;
import dev.loraj.core.quant.QuantFormat;
import dev.loraj.core.quant.QuantizationError;
import dev.loraj.core.quant.QuantizedWeight;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Round-trip error of block-wise absmax quantization (QLoRA arXiv 2305.14314, section 3) per
 * element format: mean squared error {@code sum (W - deq(q(W)))^2 / n}, relative Frobenius error
 * {@code ||W - deq(q(W))||_F / ||W||_F}, max abs error, and the measured storage in bits per
 * parameter ({@link QuantizedWeight#bitsPerParameter()}, codes and scales). Sources: seeded
 * standard-normal matrices, and with {@code --model} every linear weight of a checkpoint
 * (output heads excluded), aggregated over the matrices (sums of squares, not a mean of ratios).
 */
@Command(name = "quant-error", mixinStandardHelpOptions = true,
    description = "Quantization error (MSE, relative Frobenius) and bits per parameter per format,"
        + " on seeded standard-normal weights and optionally a checkpoint's linear weights.")
final class QuantErrorCommand implements Callable<Integer> {

  @Option(names = "--format", split = ",", defaultValue = "nf4,fp4,int4,int8",
      description = "Formats: nf4, fp4, int4, int8 (default: ${DEFAULT-VALUE}).")
  List<String> formats;

  @Option(names = "--block", defaultValue = "64", description = "Elements per absmax block (default: ${DEFAULT-VALUE}).")
  int block;

  @Option(names = "--double-quant", description = "Quantize the absmax values too (8-bit, blocks of 256).")
  boolean doubleQuant;

  @Option(names = "--model",
      description = "'minilm' (the embedded all-MiniLM-L6-v2) or a Hugging Face model directory (gpt2, llama, mistral, qwen2).")
  String model;

  @Option(names = "--seed", defaultValue = "0", description = "Seed of the normal weights (default: ${DEFAULT-VALUE}).")
  long seed;

  @Option(names = "--rows", defaultValue = "1024", description = "Rows of each normal matrix (default: ${DEFAULT-VALUE}).")
  int rows;

  @Option(names = "--cols", defaultValue = "1024", description = "Columns of each normal matrix (default: ${DEFAULT-VALUE}).")
  int cols;

  @Option(names = "--matrices", defaultValue = "4", description = "Number of normal matrices, 0 for none (default: ${DEFAULT-VALUE}).")
  int matrices;

  @Option(names = "--json", description = "Print JSON.")
  boolean json;

  /** Accumulated errors of one format over several matrices. */
  static final class Acc {
    double err2;
    double ref2;
    double maxAbs;
    long params;
    long bytes;

    void add(INDArray w, QuantizedWeight q) {
      QuantizationError.Summary s = QuantizationError.measure(w, q);
      double fro = w.castTo(DataType.DOUBLE).norm2Number().doubleValue();
      err2 += s.frobenius() * s.frobenius();
      ref2 += fro * fro;
      maxAbs = Math.max(maxAbs, s.maxAbs());
      params += (long) q.rows() * q.cols();
      bytes += q.storageBytes();
    }

    Map<String, Object> json(QuantFormat f) {
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("format", f.json());
      m.put("mse", err2 / params);
      m.put("relative_frobenius", Math.sqrt(err2 / ref2));
      m.put("max_abs", maxAbs);
      m.put("bits_per_parameter", 8.0 * bytes / params);
      return m;
    }
  }

  @picocli.CommandLine.Spec picocli.CommandLine.Model.CommandSpec spec;

  @Override
  public Integer call() throws Exception {
    Usage.range(spec, "--block", block, 1, 1 << 24);
    Usage.range(spec, "--matrices", matrices, 0, 1 << 16);
    Usage.range(spec, "--rows", rows, 1, 1 << 20);
    Usage.range(spec, "--cols", cols, 1, 1 << 20);
    List<QuantFormat> fs = formats.stream().map(QuantFormat::parse).distinct().toList();
    List<Map<String, Object>> sources = new ArrayList<>();
    if (matrices > 0) {
      SplittableRandom rnd = new SplittableRandom(seed);
      List<INDArray> ws = new ArrayList<>();
      for (int i = 0; i < matrices; i++) {
        ws.add(Fill.normal(new long[] {rows, cols}, 1.0, rnd.split())); // [rows, cols] ~ N(0, 1)
      }
      sources.add(measure(String.format(Locale.ROOT, "normal %d x [%d, %d] seed %d", matrices, rows, cols, seed), ws, fs));
    }
    if (model != null) {
      sources.add(measure(model, linearWeights(model), fs));
    }
    if (json) {
      Map<String, Object> out = new LinkedHashMap<>();
      out.put("block", block);
      out.put("double_quant", doubleQuant);
      out.put("sources", sources);
      System.out.println(new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(out));
    } else {
      System.out.printf(Locale.ROOT, "block %d%s%n", block, doubleQuant ? ", double quantization" : "");
      for (Map<String, Object> s : sources) {
        System.out.printf(Locale.ROOT, "%n%s: %d matrices, %,d parameters%n", s.get("source"), s.get("matrices"), s.get("parameters"));
        System.out.printf(Locale.ROOT, "%-6s %12s %14s %10s %11s%n", "format", "MSE", "rel. Frobenius", "max |err|", "bits/param");
        for (Object o : (List<?>) s.get("formats")) {
          Map<?, ?> f = (Map<?, ?>) o;
          System.out.printf(Locale.ROOT, "%-6s %12.4e %14.5f %10.4f %11.4f%n", f.get("format"), f.get("mse"),
              f.get("relative_frobenius"), f.get("max_abs"), f.get("bits_per_parameter"));
        }
      }
    }
    return 0;
  }

  private Map<String, Object> measure(String name, List<INDArray> ws, List<QuantFormat> fs) {
    List<Map<String, Object>> rowsOut = new ArrayList<>();
    for (QuantFormat f : fs) {
      Acc acc = new Acc();
      for (INDArray w : ws) {
        acc.add(w, QuantizedWeight.quantize(w, f, block, doubleQuant));
      }
      rowsOut.add(acc.json(f));
    }
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("source", name);
    m.put("matrices", ws.size());
    m.put("parameters", ws.stream().mapToLong(INDArray::length).sum());
    m.put("formats", rowsOut);
    return m;
  }

  /** The linear weights in torch layout [out, in], output heads excluded. */
  static List<INDArray> linearWeights(String model) throws java.io.IOException {
    BaseModel base;
    if (model.equalsIgnoreCase("minilm")) {
      BertCheckpoint cp = MiniLm.loadEmbedded();
      base = new BertModel(cp.config(), cp.weights(), BertModel.Pooling.MEAN, 0);
    } else {
      base = HfModels.load(Path.of(model));
    }
    List<INDArray> out = new ArrayList<>();
    for (LinearSite site : base.linearSites()) {
      INDArray w = base.weights().get(site.weightName());
      if (site.outputHead() || w == null) {
        continue;
      }
      out.add(site.fanInFanOut() ? w.transpose().dup('c') : w); // [out, in]
    }
    if (out.isEmpty()) {
      throw new IllegalArgumentException("--model = '" + model + "': no linear weights found");
    }
    return out;
  }
}
