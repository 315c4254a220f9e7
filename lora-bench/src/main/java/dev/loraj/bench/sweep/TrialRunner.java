package dev.loraj.bench.sweep;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.loraj.bench.progress.Progress;
import dev.loraj.core.adapter.AdapterRegistry;
import dev.loraj.core.adapter.AdapterSpec;
import dev.loraj.core.checkpoint.PeftAdapters;
import dev.loraj.core.engine.MemoryLedger;
import dev.loraj.core.engine.MemoryMonitor;
import dev.loraj.core.engine.NativeMemoryGuard;
import dev.loraj.core.graph.LmHeadCrossEntropy;
import dev.loraj.core.io.SafetensorsDtype;
import dev.loraj.core.io.SafetensorsWriter;
import dev.loraj.core.model.BaseModel;
import dev.loraj.core.model.PeftModel;
import dev.loraj.core.model.Targets;
import dev.loraj.core.quant.QuantizedLinearOp;
import dev.loraj.core.train.NonFiniteLossException;
import dev.loraj.core.train.TrainListener;
import dev.loraj.core.train.TrainResult;
import dev.loraj.core.train.Trainer;
import dev.loraj.core.train.TrainingCheckpoint;
import dev.loraj.eval.memory.MemoryBreakdown;
import dev.loraj.eval.memory.MemoryEstimator;
import dev.loraj.eval.memory.MemorySettings;
import dev.loraj.eval.memory.ModelShape;
import dev.loraj.eval.task.Task;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Runs one trial and measures it: task metric on held-out data, loss curve, parameter counts,
 * adapter file size, optimizer state, the memory ledger by category ({@link MemoryLedger}: what
 * the model, the trainer's session and the task hold after the last step, counted from their
 * arrays) beside {@link MemoryEstimator}'s estimate for the same model, method and config, the
 * process's peak resident set over the whole trial ({@code peak_rss_bytes}) and the peak over
 * training above the resident set after set-up ({@code peak_rss_delta_bytes}; VmHWM reset through
 * {@code /proc/self/clear_refs} where allowed, else sampled), step time and throughput, with
 * provenance.
 *
 * <p>Trials share a JVM: before each one the previous trial's garbage is collected, the
 * native-memory guard forgets its level and this thread's dequantization buffers are freed, so a
 * trial's ledger does not depend on what ran before it ({@code TrialIsolationTest}).
 */
public final class TrialRunner {

  public static final String ADAPTER_NAME = "default";
  /** Beside the adapters folder: one training checkpoint folder per running trial. */
  public static final String CHECKPOINTS_DIR = "checkpoints";

  private final AdapterRegistry registry;
  private final ObjectMapper json;

  public TrialRunner(AdapterRegistry registry, ObjectMapper json) {
    this.registry = registry;
    this.json = json;
  }

  /** Runs {@code spec} on {@code task}; the adapter is saved under {@code adapterDir} (if not null). */
  public ObjectNode run(String sweepName, SweepConfig cfg, TrialSpec spec, Task task, Path adapterDir) {
    ObjectNode r = header(json, sweepName, cfg, spec, task);
    ObjectNode prov = provenance(spec, task);
    prov.put("start_time", Instant.now().toString());
    prov.put("base_dtype", cfg.baseDtype().json()); // the type the frozen linear weights were held in

    List<Double> losses = new ArrayList<>();
    resetBetweenTrials();
    boolean hwm = MemoryMonitor.resetPeakRss();
    long t0 = System.nanoTime();
    try (MemoryMonitor mem = MemoryMonitor.start();
        Progress bar = new Progress(spec.id(), spec.train().steps())) {
      BaseModel base = task.newBaseModel();
      PeftModel pm = new PeftModel(base, registry);
      Set<String> head = headWeights(base, task);
      switch (spec.variant()) {
        case TrialSpec.HEAD_ONLY -> pm.addTrainableBase(head);
        case TrialSpec.FULL_FT -> pm.addTrainableBase(new LinkedHashSet<>(base.weights().keySet()));
        default -> {
          Targets t = spec.targets();
          List<String> save = new ArrayList<>(t.modulesToSave());
          for (String h : task.headModules()) {
            if (!save.contains(h)) {
              save.add(h);
            }
          }
          t = t.withModulesToSave(save.toArray(String[]::new));
          pm.addAdapter(ADAPTER_NAME, new AdapterSpec(spec.config(), t), spec.seed());
        }
      }
      // after the adapter: trained weights stay float32, the frozen linear ones go 16-bit if asked
      dev.loraj.core.quant.QuantizedBase.holdFrozen(pm, cfg.baseDtype());
      long trainable = pm.trainableParameters();
      long total = base.parameterCount();
      // set-up's garbage (the float copies quantization replaced, initialisation temporaries) is
      // freed here, so the training peak is measured above what the trial really holds
      long rssAfterSetup = MemoryMonitor.settledRssBytes();
      long setupPeak = hwm ? MemoryMonitor.peakRssBytes() : mem.sampledPeakRssBytes();
      boolean hwmTrain = hwm && MemoryMonitor.resetPeakRss();
      mem.restartPeaks();
      MemoryLedger[] ledger = new MemoryLedger[1];
      TrainListener listener = new TrainListener() {
        @Override
        public void onStep(long step, long totalSteps, double loss, double lr, double ms) {
          mem.sample();
          if (step % 20 == 0) {
            // ND4J frees native arrays when their Java objects are collected; with a mostly empty
            // heap that can take long enough for native memory to pile up within a trial
            System.gc();
          }
          losses.add(loss);
          bar.update(step, String.format(java.util.Locale.ROOT, "loss %.4f", loss));
        }

        @Override
        public void onFinish(Trainer.Session session) {
          MemoryLedger l = new MemoryLedger();
          pm.addTo(l);
          session.addTo(l);
          task.addTo(l);
          ledger[0] = l;
        }
      };
      Trainer trainer = new Trainer(spec.train()).listen(listener)
          .checkpointing(spec.specJson().path("train").path(SweepConfig.CHECKPOINTING).asBoolean(false));
      int every = spec.specJson().path("train").path(SweepConfig.CHECKPOINT_EVERY).asInt(0);
      Path checkpoints = every > 0 && adapterDir != null
          ? adapterDir.resolveSibling(CHECKPOINTS_DIR).resolve(spec.id()) : null;
      if (checkpoints != null) {
        // a trial killed after a checkpoint continues from it on the sweep's next run
        trainer.checkpoints(checkpoints, every);
      }
      TrainResult result = trainer.train(pm, task.objective(), task.trainBatches(spec.seed(), spec.batchSize()));
      losses.clear();
      losses.addAll(result.losses()); // with a resumed run, the steps before the kill too
      double trainSeconds = (System.nanoTime() - t0) / 1e9;
      mem.sample();
      MemoryMonitor.Peaks peaks = mem.peaks();
      long trainPeak = hwmTrain ? MemoryMonitor.peakRssBytes() : mem.sampledPeakRssBytes();
      Map<String, Double> metrics = task.evaluate(pm);
      r.set("metrics", json.valueToTree(new java.util.TreeMap<>(metrics)));
      r.set("loss_curve", json.valueToTree(losses));
      if (!result.taskLosses().equals(result.losses())) {
        // the adapter's regularization is part of loss_curve: the objective alone, for the report
        var taskCurve = r.putArray("task_loss_curve");
        result.taskLosses().forEach(l -> {
          if (Double.isFinite(l)) {
            taskCurve.add(l);
          } else {
            taskCurve.addNull(); // a step restored from a checkpoint, which keeps only the total
          }
        });
      }
      r.put("trainable_params", trainable);
      r.put("total_params", total);
      r.put("adapter_file_bytes", saveTrainable(pm, base, adapterDir, spec));
      r.put("optimizer_state_bytes", result.optimizerStateBytes());
      r.put("peak_offheap_bytes", peaks.offHeapBytes());
      r.put("peak_heap_bytes", peaks.heapBytes());
      // the whole trial's peak (model load, set-up, training) and what training added above set-up
      r.put("peak_rss_bytes", Math.max(setupPeak, trainPeak));
      r.put("peak_rss_delta_bytes", Math.max(0, trainPeak - rssAfterSetup));
      r.put("rss_after_setup_bytes", rssAfterSetup);
      r.put("peak_rss_source", hwmTrain ? "VmHWM" : "sampled");
      r.set("memory", ledgerJson(ledger[0]));
      ObjectNode e = json.createObjectNode();
      long estimated = 0;
      try {
        MemoryBreakdown est = estimate(spec, task, base, pm);
        est.byCategory().forEach(e::put);
        e.put("total", est.totalBytes());
        estimated = est.totalBytes();
      } catch (RuntimeException ex) {
        // a model the estimator cannot describe: the trial's measurements stand without it
        System.err.println("trial " + spec.id() + ": no memory estimate: " + ex.getMessage());
      }
      r.set("memory_estimate", e);
      r.put("analytic_memory_bytes", estimated);
      double stepMs = result.medianStepMillis();
      r.put("step_ms_median", stepMs);
      r.put("tokens_per_s", spec.batchSize() * task.tokensPerExample() * spec.train().accumulation() / (stepMs / 1000));
      r.put("train_seconds", trainSeconds);
      r.put("status", "ok");
      r.putNull("error");
      if (checkpoints != null) {
        TrainingCheckpoint.delete(checkpoints); // the trial record is what stays
      }
    } catch (NonFiniteLossException e) {
      failed(r, losses, e);
    } catch (RuntimeException | IOException e) {
      failed(r, losses, e);
    }
    prov.put("end_time", Instant.now().toString());
    r.set("provenance", prov);
    return r;
  }

  private void failed(ObjectNode r, List<Double> losses, Exception e) {
    System.err.println("trial " + r.path("id").asText() + " failed:");
    e.printStackTrace(); // the record keeps the message; the log keeps where it came from
    markFailed(json, r, losses, e.getClass().getSimpleName() + ": " + e.getMessage());
  }

  /**
   * The identity and set-up fields every trial record starts with, in their order: id, sweep,
   * group, variant, baseline, rank, config, targets, task, dataset, dataset_sha256, seed, train,
   * primary_metric, higher_is_better. {@code task} may be null (a task that could not be built,
   * as the Spark runner records it): its fields are then null.
   */
  public static ObjectNode header(ObjectMapper json, String sweepName, SweepConfig cfg, TrialSpec spec,
      Task task) {
    ObjectNode r = json.createObjectNode();
    r.put("id", spec.id());
    r.put("sweep", sweepName);
    r.put("group", spec.group());
    r.put("variant", spec.variant());
    r.put("baseline", spec.baseline());
    if (spec.rank() == null) {
      r.putNull("rank");
    } else {
      r.put("rank", spec.rank());
    }
    r.set("config", spec.configJson());
    r.set("targets", spec.targets() == null ? null : json.valueToTree(spec.targets()));
    r.put("task", task == null ? null : task.id());
    r.put("dataset", task == null ? null : task.datasetId());
    r.put("dataset_sha256", task == null ? null : task.datasetSha256());
    r.put("seed", spec.seed());
    r.set("train", spec.specJson().get("train").deepCopy());
    r.put("primary_metric", cfg.primaryMetric());
    r.put("higher_is_better", task == null || task.higherIsBetter());
    return r;
  }

  /** A trial's provenance: the machine, base model, data set and its hash (task may be null), seed. */
  public static ObjectNode provenance(TrialSpec spec, Task task) {
    ObjectNode prov = Provenance.machine();
    if (task != null) {
      prov.put("base_model", task.baseModelName());
      prov.put("dataset", task.datasetId());
      prov.put("dataset_sha256", task.datasetSha256());
    }
    prov.put("seed", spec.seed());
    return prov;
  }

  /** Marks record {@code r} failed: status, error, the losses so far, no metrics. */
  public static void markFailed(ObjectMapper json, ObjectNode r, List<Double> losses, String error) {
    r.put("status", "failed");
    r.put("error", error);
    r.set("loss_curve", json.valueToTree(losses));
    r.set("metrics", json.createObjectNode());
  }

  private static Set<String> headWeights(BaseModel base, Task task) {
    Set<String> out = new LinkedHashSet<>();
    for (String h : task.headModules()) {
      base.weights().keySet().stream().filter(w -> w.startsWith(h + ".")).forEach(out::add);
    }
    return out;
  }

  /**
   * What a trial leaves behind that the next one would otherwise inherit: garbage awaiting
   * collection (its native buffers), freed memory the allocator keeps resident (which would
   * raise this trial's resident set after set-up), the native-memory guard's level, this
   * thread's dequantization buffers.
   */
  static void resetBetweenTrials() {
    QuantizedLinearOp.releaseBuffers();
    LmHeadCrossEntropy.releaseBuffers();
    MemoryMonitor.settledRssBytes(); // collects, and returns the freed native memory to the system
    NativeMemoryGuard.global().reset();
  }

  private ObjectNode ledgerJson(MemoryLedger l) {
    ObjectNode m = json.createObjectNode();
    if (l == null) {
      return m;
    }
    l.byId().forEach(m::put);
    m.put("total", l.total());
    return m;
  }

  /** {@link MemoryEstimator} for this trial's model, method, config and targets, fp32 and AdamW. */
  private MemoryBreakdown estimate(TrialSpec spec, Task task, BaseModel base, PeftModel pm) {
    ModelShape shape = ModelShape.of(base);
    boolean adapter = !spec.variant().equals(TrialSpec.HEAD_ONLY) && !spec.variant().equals(TrialSpec.FULL_FT);
    String variant = spec.variant().equals(TrialSpec.FULL_FT) ? "full" : spec.variant();
    long seq = Math.max(1, task.tokensPerExample());
    MemorySettings s = MemorySettings.of(variant, adapter ? spec.config().rank() : 0, spec.batchSize(), seq);
    long trainedBase = spec.variant().equals(TrialSpec.FULL_FT) ? 0
        : pm.trainableBase().stream().mapToLong(w -> base.weights().get(w).length()).sum();
    return new MemoryEstimator(registry).estimate(shape, s, trainedBase,
        adapter ? spec.config() : null, adapter ? pm.adapter(ADAPTER_NAME).spec().targets() : null);
  }

  /**
   * Writes what training changed and returns the weights file's size: a PEFT adapter directory
   * where PEFT has a form for the variant ({@link PeftAdapters#noPeftForm} empty), else the
   * framework's own format ({@link PeftAdapters#saveOwn}; its {@code loraj_adapter.json} says
   * why PEFT has none); head-only training writes the trained base tensors under PEFT's key
   * names. Full fine-tuning's "adapter" is the whole model: only its size is computed.
   */
  private long saveTrainable(PeftModel pm, BaseModel base, Path adapterDir, TrialSpec spec) throws IOException {
    boolean adapter = pm.adapterNames().contains(ADAPTER_NAME);
    if (adapter && adapterDir != null && !spec.variant().equals(TrialSpec.FULL_FT)) {
      Path dir = adapterDir.resolve(spec.id());
      if (PeftAdapters.noPeftForm(pm.adapter(ADAPTER_NAME)).isEmpty()) {
        // a PEFT adapter directory: PeftModel.from_pretrained loads it
        PeftAdapters.save(pm, ADAPTER_NAME, dir);
      } else {
        PeftAdapters.saveOwn(pm, ADAPTER_NAME, dir);
      }
      return Files.size(dir.resolve(PeftAdapters.WEIGHTS_BASE + ".safetensors"));
    }
    Map<String, INDArray> tensors = new LinkedHashMap<>();
    if (pm.adapterNames().contains(ADAPTER_NAME)) {
      pm.adapter(ADAPTER_NAME).sites().forEach((site, ad) -> {
        ad.parameters().forEach((k, v) -> tensors.put("base_model.model." + site + "." + k, v));
        ad.buffers().forEach((k, v) -> tensors.put("base_model.model." + site + "." + k, v));
      });
    }
    for (String w : pm.trainableBase()) {
      tensors.put("base_model.model." + w, pm.baseTensor(w));
    }
    Map<String, String> metadata = Map.of("format", "pt");
    if (adapterDir == null || spec.variant().equals(TrialSpec.FULL_FT)) {
      // full fine-tuning's "adapter" is the whole model: its size is reported, nothing written
      return SafetensorsWriter.fileSize(tensors, metadata, SafetensorsDtype.F32);
    }
    Path dir = adapterDir.resolve(spec.id());
    Files.createDirectories(dir);
    Path file = dir.resolve("adapter_model.safetensors");
    SafetensorsWriter.write(file, tensors, metadata);
    return Files.size(file);
  }
}
