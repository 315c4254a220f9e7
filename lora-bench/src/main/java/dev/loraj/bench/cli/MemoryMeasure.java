package dev.loraj.bench.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.loraj.core.adapter.AdapterConfig;
import dev.loraj.core.adapter.AdapterFactory;
import dev.loraj.core.adapter.AdapterRegistry;
import dev.loraj.core.adapter.AdapterSpec;
import dev.loraj.core.engine.MemoryLedger;
import dev.loraj.core.engine.MemoryMonitor;
import dev.loraj.core.model.ArchitectureCards;
import dev.loraj.core.model.BaseDtype;
import dev.loraj.core.model.BaseModel;
import dev.loraj.core.model.HfModels;
import dev.loraj.core.model.PeftModel;
import dev.loraj.core.model.QuantizeOnLoad;
import dev.loraj.core.model.Targets;
import dev.loraj.bench.step.StepBench;
import dev.loraj.core.io.ShardedCheckpoint;
import dev.loraj.core.model.bert.BertModel;
import dev.loraj.core.model.llama.LlamaModel;
import dev.loraj.core.model.bert.TokenBatch;
import dev.loraj.core.model.onnx.MiniLm;
import dev.loraj.core.train.Objective;
import dev.loraj.core.train.TrainConfig;
import dev.loraj.core.train.Trainer;
import dev.loraj.eval.memory.MemoryBreakdown;
import dev.loraj.eval.memory.MemoryEstimator;
import dev.loraj.eval.memory.MemorySettings;
import dev.loraj.eval.memory.ModelShape;
import dev.loraj.variants.qlora.QuantizedLoraConfig;
import dev.loraj.eval.memory.Precision;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * {@code lora memory --measure}: builds the model and trains it for a few real steps on random
 * tokens at the given batch and sequence, then returns the measured {@link MemoryLedger} and the
 * process's peak resident set beside {@link MemoryEstimator}'s estimate for the same model.
 * Models: the embedded all-MiniLM-L6-v2 ({@code minilm}) or a BERT-family directory, with a
 * 3-class head trained beside the variant (as in a sweep); or a Llama/Mistral/Qwen2 directory
 * (a real checkpoint or one from {@code lora init-model}), trained as a causal language model
 * (cross-entropy on the next token at every position). With several variants each one runs in a
 * JVM of its own, so that one variant's peak and allocator state cannot reach the next one's.
 *
 * <p>Resident-set figures: {@code peak_rss} is the peak of the whole measurement (VmHWM reset at
 * its start: loading, quantizing, adding the adapter, training); {@code rss_after_load} the
 * settled resident set once the base model is loaded; {@code peak_rss_over_loaded} the
 * difference, which is what fine-tuning costs on top of holding the model; and
 * {@code peak_rss_delta} the training steps' peak above the settled set-up (model and adapter);
 * {@code peak_rss_replayed_steps} the peak of the steps from the third on (VmHWM reset before
 * it; whatever the first two left resident included): without {@code --checkpointing} the first
 * two run through SameDiff's session and build the replay plan, with it every step is replayed
 * (the first records the plan on scratch arrays); {@code peak_rss_by_step} the peak of each step
 * alone (VmHWM reset before every step).
 */
final class MemoryMeasure {

  /** Classes of the head the measurement trains (any small count gives the same picture). */
  static final int LABELS = 3;

  private MemoryMeasure() {}

  /**
   * The base model {@code --measure} trains, its frozen weights stored in {@code baseDtype}
   * ({@link #BASE_DTYPES}; {@code auto}: the checkpoint's).
   */
  static BaseModel model(String model, String baseDtype) throws IOException {
    return model(model, baseDtype, null);
  }

  /**
   * As {@link #model(String, String)}, the weights {@code quantize} selects quantized while the
   * checkpoint is read (null: none).
   */
  static BaseModel model(String model, String baseDtype, QuantizeOnLoad quantize) throws IOException {
    if (model.equalsIgnoreCase("minilm")) {
      return BertModel.of(MiniLm.loadEmbedded(), BertModel.Pooling.MEAN, LABELS, 17);
    }
    BaseModel m = HfModels.load(Path.of(model), BaseDtype.parse(baseDtype), quantize);
    if (!(m instanceof BertModel) && !(m instanceof LlamaModel)) {
      throw new IllegalArgumentException("--measure: model '" + model + "' is a " + m.family()
          + " model; measured runs support minilm, BERT-family and Llama-family (llama, mistral, qwen2)"
          + " model directories");
    }
    return m;
  }

  /** {@code --base-dtype} values. */
  static final List<String> BASE_DTYPES = List.of("auto", "bf16", "f16", "f32");

  /**
   * The storage dtype {@code --base-dtype} means for the checkpoint in {@code dir}: the
   * checkpoint's own floating-point dtype for {@code auto} (f32 when its tensors are wider).
   */
  static String resolveBaseDtype(Path dir, String baseDtype) throws IOException {
    if (!baseDtype.equals("auto")) {
      return baseDtype;
    }
    try (ShardedCheckpoint cp = ShardedCheckpoint.open(dir)) {
      return cp.names().stream().map(n -> cp.info(n).dtype()).filter(d -> d.isFloatingPoint()).findFirst()
          .map(d -> switch (d) {
            case BF16 -> "bf16";
            case F16 -> "f16";
            default -> "f32";
          }).orElse("f32");
    }
  }

  /**
   * One variant in this JVM: {@code {"variant", "model", "base_dtype", "estimate": {category:
   * bytes, total}, "measured": {category: bytes, total, peak_rss, peak_rss_delta,
   * rss_after_setup, rss_after_load, peak_rss_over_loaded, ...}, "step_seconds": [...]}}.
   *
   * @param baseDtype {@code --base-dtype} (auto, bf16, f16, f32); full fine-tuning trains fp32
   *     weights, so it always loads f32
   */
  static ObjectNode measure(ObjectMapper json, String model, MemorySettings s, int steps, String baseDtype)
      throws IOException {
    boolean hwm = MemoryMonitor.resetPeakRss();
    long sampledStart = MemoryMonitor.rssBytes();
    boolean full = s.variant().equals("full");
    String storage = model.equalsIgnoreCase("minilm") || full ? "f32" : resolveBaseDtype(Path.of(model), baseDtype);
    AdapterRegistry registry = AdapterRegistry.discover();
    QuantizeOnLoad quantize = null;
    if (s.variant().equals("qlora") && !model.equalsIgnoreCase("minilm")) {
      // QLoRA's base is quantized as the checkpoint is read; the adapter keeps it
      AdapterFactory<?> f = registry.get(s.variant());
      if (f.defaultConfig() instanceof QuantizedLoraConfig q) {
        quantize = new QuantizeOnLoad(ArchitectureCards.targets(targetNames(s), HfModels.sites(Path.of(model))),
            q.format(), q.blockSize(), q.doubleQuant());
      }
    }
    long t0 = System.nanoTime();
    BaseModel base = model(model, storage, quantize);
    double loadSeconds = (System.nanoTime() - t0) / 1e9;
    long afterLoad = MemoryMonitor.settledRssBytes();
    boolean decoder = base instanceof LlamaModel;
    PeftModel pm = new PeftModel(base, registry);
    ModelShape shape = decoder ? ModelShape.of(model) : ModelShape.of(base);
    Set<String> head = new LinkedHashSet<>();
    base.weights().keySet().stream().filter(w -> w.startsWith("classifier.")).forEach(head::add);
    long headParams = head.stream().mapToLong(w -> base.weights().get(w).length()).sum();
    long trainedBase = headParams;
    Targets targets = null;
    AdapterConfig cfg = null;
    if (full) {
      pm.addTrainableBase(new LinkedHashSet<>(base.weights().keySet()));
      trainedBase = 0;
    } else if (s.variant().equals(MemoryEstimator.HEAD_ONLY)) {
      if (decoder) {
        throw new IllegalArgumentException("--variant " + MemoryEstimator.HEAD_ONLY + " trains a classification"
            + " head; a decoder has none (use full or an adapter)");
      }
      pm.addTrainableBase(head);
    } else {
      AdapterFactory<?> f = registry.get(s.variant());
      targets = ArchitectureCards.targets(targetNames(s), base.linearSites());
      cfg = f.defaultConfig().withRankAndAlpha(s.rank(), f.defaultConfig().alpha());
      pm.addAdapter("default", new AdapterSpec(cfg, decoder ? targets : targets.withModulesToSave("classifier")), 1);
    }
    Precision frozen = switch (storage) {
      case "bf16" -> Precision.BF16;
      case "f16" -> Precision.FP16;
      default -> Precision.FP32;
    };
    MemoryBreakdown est = new MemoryEstimator(registry).estimate(shape, s, trainedBase, cfg, targets, frozen);
    long afterSetup = MemoryMonitor.settledRssBytes();
    long setupPeak = hwm ? MemoryMonitor.peakRssBytes() : Math.max(sampledStart, afterSetup);
    boolean hwmTrain = hwm && MemoryMonitor.resetPeakRss();
    MemoryLedger ledger = new MemoryLedger();
    long trainPeak;
    long firstStepsPeak = -1; // VmHWM of the steps before the replayed ones
    long steadyPeak = -1;
    int recomputed;
    long heapPeak;
    List<Double> stepSeconds = new ArrayList<>();
    List<Double> stepCpuSeconds = new ArrayList<>();
    List<Long> stepPeaks = new ArrayList<>(); // VmHWM of each step alone (reset before it)
    try (MemoryMonitor mon = MemoryMonitor.start();
        Trainer.Session session = new Trainer(TrainConfig.of(steps, 1e-4, 1)).checkpointing(s.checkpointing())
            .start(pm, decoder ? Objective.tokenCrossEntropy() : Objective.classification())) {
      int vocab = decoder ? ((LlamaModel) base).config().vocabSize() : ((BertModel) base).config().vocabSize();
      for (int step = 1; step <= steps; step++) {
        if (hwmTrain) {
          MemoryMonitor.resetPeakRss();
        }
        long ts = System.nanoTime();
        long cpu = processCpuNanos();
        session.step(step, (st, micro) -> decoder ? decoderBatch(st, (int) s.batch(), (int) s.seq(), vocab)
            : batch(st, (int) s.batch(), (int) s.seq(), vocab));
        stepSeconds.add((System.nanoTime() - ts) / 1e9);
        stepCpuSeconds.add((processCpuNanos() - cpu) / 1e9);
        mon.sample();
        if (hwmTrain) {
          long p = MemoryMonitor.peakRssBytes();
          stepPeaks.add(p);
          if (step < STEADY_FROM) {
            firstStepsPeak = Math.max(firstStepsPeak, p);
          } else {
            steadyPeak = Math.max(steadyPeak, p);
          }
        }
      }
      pm.addTo(ledger);
      session.addTo(ledger);
      mon.sample();
      long endPeak = hwmTrain ? MemoryMonitor.peakRssBytes() : mon.sampledPeakRssBytes();
      trainPeak = Math.max(Math.max(firstStepsPeak, steadyPeak), endPeak);
      steadyPeak = hwmTrain && steps >= STEADY_FROM ? Math.max(steadyPeak, endPeak) : -1;
      recomputed = session.recomputedBlocks();
      heapPeak = mon.peaks().heapBytes();
    }
    ObjectNode out = json.createObjectNode();
    out.put("variant", s.variant());
    out.put("model", model);
    out.put("base_dtype", storage);
    out.put("checkpointing", s.checkpointing());
    out.put("recomputed_blocks", recomputed);
    out.put("trainable_params", est.trainableParams());
    ObjectNode e = out.putObject("estimate");
    est.byCategory().forEach(e::put);
    e.put("total", est.totalBytes());
    ObjectNode m = out.putObject("measured");
    ledger.byId().forEach(m::put);
    m.put("total", ledger.total());
    long peak = Math.max(setupPeak, trainPeak);
    m.put("peak_rss", peak);
    m.put("rss_after_load", afterLoad);
    m.put("peak_rss_over_loaded", Math.max(0, peak - afterLoad));
    m.put("peak_rss_delta", Math.max(0, trainPeak - afterSetup));
    m.put("rss_after_setup", afterSetup);
    m.put("peak_rss_source", hwmTrain ? "VmHWM" : "sampled");
    m.put("peak_rss_replayed_steps", steadyPeak);
    ArrayNode peaks = m.putArray("peak_rss_by_step");
    stepPeaks.forEach(peaks::add);
    // the JVM heap is part of the resident set: quantized and 16-bit weights hold their codes there
    m.put("peak_heap_used", heapPeak);
    m.put("heap_committed", Runtime.getRuntime().totalMemory());
    out.put("load_seconds", loadSeconds);
    ArrayNode times = out.putArray("step_seconds");
    stepSeconds.forEach(times::add);
    // from the third step on: the steady state (without checkpointing the first two build and record the plan)
    out.put("step_seconds_median", StepBench.median(stepSeconds.size() >= STEADY_FROM
        ? stepSeconds.subList(STEADY_FROM - 1, stepSeconds.size()) : stepSeconds));
    // CPU time of the whole process per step: on a loaded machine, wall time measures the load too
    ArrayNode cpuTimes = out.putArray("step_cpu_seconds");
    stepCpuSeconds.forEach(cpuTimes::add);
    out.put("threads", System.getenv().getOrDefault("OMP_NUM_THREADS", "unset"));
    return out;
  }

  /** CPU time of this process so far (every thread), or 0 where the platform does not say. */
  private static long processCpuNanos() {
    return ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean os
        ? Math.max(0, os.getProcessCpuTime()) : 0;
  }

  /** The settings' targets, or the variant's default: all-linear for quantized variants, query,value otherwise. */
  private static List<String> targetNames(MemorySettings s) {
    return s.targets() != null ? s.targets() : s.quantized() ? List.of(Targets.ALL_LINEAR) : List.of("query", "value");
  }

  /** Random tokens [batch, seq] and next-token label ids [batch * seq] ({@link Objective#tokenCrossEntropy()}). */
  static Map<String, INDArray> decoderBatch(long step, int batch, int seq, int vocab) {
    SplittableRandom rnd = new SplittableRandom(step);
    long[][] ids = StepBench.randomTokens(batch, seq, vocab, rnd);
    Map<String, INDArray> m = new HashMap<>();
    m.put("input_ids", Nd4j.createFromArray(ids));
    m.put(Objective.LABEL_IDS, StepBench.nextTokenIds(ids, vocab, rnd));
    return m;
  }

  /**
   * The first step of the steady state: without checkpointing the first two build the graph and
   * record the plan, holding every activation as SameDiff's session does.
   */
  static final int STEADY_FROM = 3;

  /** Random tokens (every position attended) and one-hot labels: [batch, seq]. */
  static Map<String, INDArray> batch(long step, int batch, int seq, int vocab) {
    SplittableRandom rnd = new SplittableRandom(step);
    long[][] ids = new long[batch][seq];
    long[][] mask = new long[batch][seq];
    long[][] types = new long[batch][seq];
    INDArray labels = Nd4j.zeros(DataType.FLOAT, batch, LABELS);
    for (int b = 0; b < batch; b++) {
      for (int t = 0; t < seq; t++) {
        ids[b][t] = rnd.nextInt(vocab);
        mask[b][t] = 1;
      }
      labels.putScalar(b, rnd.nextInt(LABELS), 1f);
    }
    Map<String, INDArray> m = new HashMap<>(BertModel.inputs(new TokenBatch(ids, mask, types)));
    m.put("labels", labels);
    return m;
  }

  /**
   * Runs {@code lora memory <args> --in-process --json} in a new JVM with this JVM's options and
   * class path, and returns the element it prints.
   */
  static JsonNode inChild(ObjectMapper json, List<String> args) throws IOException, InterruptedException {
    List<String> lora = new ArrayList<>();
    lora.add("memory");
    lora.addAll(args);
    List<String> cmd = dev.loraj.bench.sweep.ChildJvm.command(List.of(), LoraCli.class.getName(), lora);
    Process p = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.INHERIT).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    int rc = p.waitFor();
    if (rc != 0) {
      throw new IllegalStateException("measuring in a child JVM failed (exit " + rc + "): " + String.join(" ", args));
    }
    JsonNode n = json.readTree(out);
    return n instanceof ArrayNode a && a.size() == 1 ? a.get(0) : n;
  }
}
