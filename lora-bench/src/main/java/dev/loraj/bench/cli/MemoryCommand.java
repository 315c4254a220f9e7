package dev.loraj.bench.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.loraj.eval.memory.MemoryBreakdown;
import dev.loraj.eval.memory.MemoryEstimator;
import dev.loraj.eval.memory.MemorySettings;
import dev.loraj.eval.memory.ModelShape;
import dev.loraj.eval.memory.Precision;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code lora memory}: the analytic training-memory breakdown of {@link MemoryEstimator} for a
 * built-in architecture card, {@code minilm} (the embedded all-MiniLM-L6-v2) or a Hugging Face
 * model directory, one table per variant; with {@code --measure} also the measured ledger of a
 * few real training steps ({@link MemoryMeasure}).
 */
@Command(name = "memory", mixinStandardHelpOptions = true,
    description = "Analytic training memory: frozen weights, trainable weights, gradients, optimizer state,"
        + " activations (Korthikanti et al. 2022), for full fine-tuning or any adapter, on an architecture"
        + " card (llama-7b .. llama-65b, gpt3-175b, roberta-base, ...) or a model directory.")
final class MemoryCommand implements Callable<Integer> {

  @Option(names = "--model", required = true,
      description = "Architecture card name, minilm (the embedded all-MiniLM-L6-v2) or model directory with config.json.")
  String model;

  @Option(names = "--variant", split = ",", defaultValue = "lora",
      description = "full, or adapter names (lora, qlora, dora, vera, adalora, ...); a list prints one table each"
          + " (default: ${DEFAULT-VALUE}).")
  List<String> variants;

  @Option(names = "--rank", defaultValue = "8", description = "Adapter rank (default: ${DEFAULT-VALUE}).")
  int rank;

  @Option(names = "--batch", defaultValue = "1", description = "Micro-batch size (default: ${DEFAULT-VALUE}).")
  long batch;

  @Option(names = "--seq", defaultValue = "512", description = "Sequence length (default: ${DEFAULT-VALUE}).")
  long seq;

  @Option(names = "--dtype", defaultValue = "fp32", description = "Weights/compute dtype: fp32, fp16, bf16 (default: ${DEFAULT-VALUE}).")
  String dtype;

  @Option(names = "--targets", split = ",",
      description = "Targets (query, key, value, output, fc1, fc2, all-linear, or module names);"
          + " default: all-linear for qlora/loftq/qpissa, query,value otherwise; all-linear for every variant"
          + " of a list that has one of those, so the rows adapt the same layers.")
  List<String> targets;

  @Option(names = "--optimizer", defaultValue = "adamw",
      description = "adamw (fp32 states), adamw-16bit, adamw-8bit, sgd (default: ${DEFAULT-VALUE}).")
  String optimizer;

  @Option(names = "--checkpointing", description = "Gradient checkpointing (full recomputation) of every layer.")
  boolean checkpointing;

  @Option(names = "--master-weights", description = "Keep an fp32 master copy of the trainable parameters (16-bit dtypes).")
  boolean masterWeights;

  @Option(names = "--no-double-quant", description = "Quantized variants: fp32 block scales instead of double quantization.")
  boolean noDoubleQuant;

  @Option(names = "--json", description = "Print JSON.")
  boolean json;

  @Option(names = "--measure", description = "Also build the model (minilm, a BERT directory, or a Llama/Mistral/Qwen2"
      + " directory such as one from init-model), add the variant, run --steps real training steps at --batch x --seq"
      + " and print the measured memory ledger (frozen, quantized, trainable, gradients, optimizer, activations, other),"
      + " peak RSS (whole run, and over the loaded model) and step time beside the estimate; several variants run in a"
      + " JVM each.")
  boolean measure;

  @Option(names = "--base-dtype", split = ",", defaultValue = "auto",
      description = "Storage of the frozen base weights (linear layers, and a Llama-family decoder's token"
          + " embeddings): auto (with --measure the checkpoint's, else --dtype), bf16, f16, f32; with --measure"
          + " a list measures each adapter variant at each (full fine-tuning trains fp32 weights: once)"
          + " (default: ${DEFAULT-VALUE}).")
  List<String> baseDtypes;

  @Option(names = "--steps", defaultValue = "4",
      description = "--measure: training steps (from the third on the replayed steady state; default: ${DEFAULT-VALUE}).")
  int steps;

  @Option(names = "--in-process", hidden = true, description = "--measure: measure in this JVM.")
  boolean inProcess;

  @picocli.CommandLine.Spec
  picocli.CommandLine.Model.CommandSpec spec;

  /**
   * The targets of every row when none were given and the list mixes a quantized variant (whose
   * default is all-linear) with others (query,value): all-linear for all, so that one table compares
   * the variants on the same layers; otherwise each variant's default.
   */
  private void sameDefaultTargets() {
    if (targets == null && variants.size() > 1
        && variants.stream().anyMatch(v -> settings(v).quantized())) {
      targets = List.of(dev.loraj.core.model.Targets.ALL_LINEAR);
    }
  }

  @Override
  public Integer call() throws Exception {
    sameDefaultTargets();
    Usage.range(spec, "--rank", rank, 1, 1 << 20);
    Usage.range(spec, "--batch", batch, 1, 1L << 32);
    Usage.range(spec, "--seq", seq, 1, 1L << 32);
    for (String d : baseDtypes) {
      if (!MemoryMeasure.BASE_DTYPES.contains(d)) {
        throw new picocli.CommandLine.ParameterException(spec.commandLine(), "--base-dtype = '" + d + "'; accepted: "
            + MemoryMeasure.BASE_DTYPES);
      }
    }
    if (measure) {
      return measured();
    }
    if (baseDtypes.size() != 1) {
      throw new picocli.CommandLine.ParameterException(spec.commandLine(), "--base-dtype: one value without"
          + " --measure (the frozen weights' dtype of the estimate), got " + baseDtypes);
    }
    ModelShape shape = model.equalsIgnoreCase("minilm") ? ModelShape.of(MemoryMeasure.model(model, "f32"))
        : ModelShape.of(model);
    MemoryEstimator est = new MemoryEstimator();
    List<MemoryBreakdown> out = new ArrayList<>();
    for (String v : variants) {
      MemorySettings settings = settings(v);
      Precision frozen = switch (baseDtypes.get(0)) {
        case "bf16" -> Precision.BF16;
        case "f16" -> Precision.FP16;
        case "f32" -> Precision.FP32;
        default -> settings.dtype(); // auto: a card has no checkpoint dtype; the weights' --dtype
      };
      out.add(est.estimate(shape, settings, 0, null, null, frozen));
    }
    if (json) {
      List<Map<String, Object>> rows = new ArrayList<>();
      for (MemoryBreakdown b : out) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("model", b.model());
        m.put("variant", b.settings().variant());
        m.put("settings", b.settings());
        m.put("total_params", b.totalParams());
        m.put("trainable_params", b.trainableParams());
        m.put("frozen_bytes", b.frozenBytes());
        m.put("quantized_bytes", b.quantizedBytes());
        m.put("trainable_bytes", b.trainableBytes());
        m.put("gradient_bytes", b.gradientBytes());
        m.put("optimizer_bytes", b.optimizerBytes());
        m.put("activation_bytes", b.activationBytes());
        m.put("workspace_bytes", b.workspaceBytes());
        m.put("total_bytes", b.totalBytes());
        m.put("activation_formula", b.activationFormula());
        m.put("notes", b.notes());
        rows.add(m);
      }
      System.out.println(new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(rows));
    } else {
      for (int i = 0; i < out.size(); i++) {
        if (i > 0) {
          System.out.println();
        }
        System.out.print(out.get(i).table());
      }
    }
    return 0;
  }

  private MemorySettings settings(String v) {
    return new MemorySettings(v, v.equalsIgnoreCase("full") || v.equalsIgnoreCase(MemoryEstimator.HEAD_ONLY) ? 0 : rank,
        targets, batch, seq, Precision.parse(dtype), MemorySettings.Optimizer.parse(optimizer), masterWeights,
        checkpointing, !noDoubleQuant);
  }

  /** {@code --measure}: estimate and measured ledger per variant, side by side. */
  private int measured() throws Exception {
    if (Precision.parse(dtype) != Precision.FP32 || !optimizer.equalsIgnoreCase("adamw") || masterWeights) {
      throw new picocli.CommandLine.ParameterException(spec.commandLine(), "--measure trains in fp32 with AdamW"
          + " (frozen weights per --base-dtype): drop --dtype " + dtype + " / --optimizer " + optimizer
          + " / --master-weights");
    }
    ObjectMapper om = new ObjectMapper();
    com.fasterxml.jackson.databind.node.ArrayNode rows = om.createArrayNode();
    List<String[]> runs = new ArrayList<>();
    for (String v : variants) {
      for (String d : v.equalsIgnoreCase("full") ? List.of("f32") : baseDtypes) {
        runs.add(new String[] {v, d});
      }
    }
    for (String[] run : runs) {
      String v = run[0];
      if (inProcess || runs.size() == 1) {
        rows.add(MemoryMeasure.measure(om, model, settings(v), steps, run[1]));
      } else {
        List<String> args = new ArrayList<>(List.of("--model", model, "--variant", v, "--rank", Integer.toString(rank),
            "--batch", Long.toString(batch), "--seq", Long.toString(seq), "--steps", Integer.toString(steps),
            "--base-dtype", run[1], "--measure", "--in-process", "--json"));
        if (targets != null) {
          args.add("--targets");
          args.add(String.join(",", targets));
        }
        if (noDoubleQuant) {
          args.add("--no-double-quant");
        }
        if (checkpointing) {
          args.add("--checkpointing");
        }
        rows.add(MemoryMeasure.inChild(om, args));
      }
    }
    if (json) {
      System.out.println(om.enable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(rows));
      return 0;
    }
    for (int i = 0; i < rows.size(); i++) {
      com.fasterxml.jackson.databind.JsonNode r = rows.get(i);
      if (i > 0) {
        System.out.println();
      }
      System.out.printf(java.util.Locale.ROOT, "%s, %s r=%d, batch %d x seq %d, base %s, fp32 compute, adamw,"
          + " %d steps%s%n", r.path("model").asText(), r.path("variant").asText(), rank, batch, seq,
          r.path("base_dtype").asText(), steps, r.path("checkpointing").asBoolean() ? ", checkpointing" : "");
      System.out.printf(java.util.Locale.ROOT, "  %-14s %14s %14s %10s%n", "category", "estimate MiB", "measured MiB",
          "measured/estimate");
      for (String c : List.of("frozen", "quantized", "trainable", "gradients", "optimizer", "activations", "other",
          "total")) {
        long e = r.path("estimate").path(c).asLong(-1);
        long m = r.path("measured").path(c).asLong();
        System.out.printf(java.util.Locale.ROOT, "  %-14s %14s %14.1f %10s%n", c, e < 0 ? "-" : String.format(
            java.util.Locale.ROOT, "%.1f", e / 1048576.0), m / 1048576.0,
            e > 0 ? String.format(java.util.Locale.ROOT, "%.3f", m / (double) e) : "-");
      }
      System.out.printf(java.util.Locale.ROOT, "  peak RSS %.1f MiB (whole run), peak RSS delta %.1f MiB (training above"
          + " set-up, %s)%n", r.path("measured").path("peak_rss").asLong() / 1048576.0,
          r.path("measured").path("peak_rss_delta").asLong() / 1048576.0,
          r.path("measured").path("peak_rss_source").asText());
      if (r.path("measured").path("peak_rss_replayed_steps").asLong() > 0) {
        System.out.printf(java.util.Locale.ROOT, "  peak RSS of the replayed steps %.1f MiB (%d blocks recomputed)%n",
            r.path("measured").path("peak_rss_replayed_steps").asLong() / 1048576.0, r.path("recomputed_blocks").asInt());
      }
      System.out.printf(java.util.Locale.ROOT, "  peak RSS over the loaded model %.1f MiB (loaded: %.1f MiB in %.1f s);"
          + " step %.2f s (median of the replayed steps; CPU time of the last %.2f s; OMP_NUM_THREADS=%s)%n",
          r.path("measured").path("peak_rss_over_loaded").asLong() / 1048576.0,
          r.path("measured").path("rss_after_load").asLong() / 1048576.0, r.path("load_seconds").asDouble(),
          r.path("step_seconds_median").asDouble(), r.path("step_cpu_seconds").path(r.path("step_cpu_seconds").size() - 1)
              .asDouble(), r.path("threads").asText());
    }
    return 0;
  }
}
