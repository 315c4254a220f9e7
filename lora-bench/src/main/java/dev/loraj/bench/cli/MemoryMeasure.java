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
import dev.loraj.core.model.BaseModel;
import dev.loraj.core.model.HfModels;
import dev.loraj.core.model.PeftModel;
import dev.loraj.core.model.Targets;
import dev.loraj.core.model.bert.BertModel;
import dev.loraj.core.model.bert.TokenBatch;
import dev.loraj.core.model.onnx.MiniLm;
import dev.loraj.core.train.Objective;
import dev.loraj.core.train.TrainConfig;
import dev.loraj.core.train.Trainer;
import dev.loraj.eval.memory.MemoryBreakdown;
import dev.loraj.eval.memory.MemoryEstimator;
import dev.loraj.eval.memory.MemorySettings;
import dev.loraj.eval.memory.ModelShape;
import java.io.IOException;
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
 * {@code lora memory --measure}: builds the model (the embedded all-MiniLM-L6-v2 for
 * {@code minilm}, or a BERT-family model directory) with a 3-class head, adds the variant on the
 * estimate's targets (the head trained beside it, as in a sweep), runs real training steps on
 * random tokens at the given batch and sequence, and returns the measured {@link MemoryLedger}
 * with the process's peak resident set beside {@link MemoryEstimator}'s estimate for the same
 * model. With several variants each one runs in a JVM of its own, so that one variant's peak
 * and allocator state cannot reach the next one's.
 */
final class MemoryMeasure {

  /** Classes of the head the measurement trains (any small count gives the same picture). */
  static final int LABELS = 3;

  private MemoryMeasure() {}

  /** The base model {@code --measure} trains. */
  static BaseModel model(String model) throws IOException {
    if (model.equalsIgnoreCase("minilm")) {
      return BertModel.of(MiniLm.loadEmbedded(), BertModel.Pooling.MEAN, LABELS, 17);
    }
    BaseModel m = HfModels.load(Path.of(model));
    if (!(m instanceof BertModel)) {
      throw new IllegalArgumentException("--measure: model '" + model + "' is a " + m.family()
          + " model; measured runs support minilm and BERT-family model directories");
    }
    return m;
  }

  /**
   * One variant in this JVM: {@code {"variant", "model", "estimate": {category: bytes, total},
   * "measured": {category: bytes, total, peak_rss, peak_rss_delta, rss_after_setup}}}.
   */
  static ObjectNode measure(ObjectMapper json, String model, MemorySettings s, int steps) throws IOException {
    boolean hwm = MemoryMonitor.resetPeakRss();
    long sampledStart = MemoryMonitor.rssBytes();
    BaseModel base = model(model);
    AdapterRegistry registry = AdapterRegistry.discover();
    PeftModel pm = new PeftModel(base, registry);
    ModelShape shape = ModelShape.of(base);
    Set<String> head = new LinkedHashSet<>();
    base.weights().keySet().stream().filter(w -> w.startsWith("classifier.")).forEach(head::add);
    long headParams = head.stream().mapToLong(w -> base.weights().get(w).length()).sum();
    long trainedBase = headParams;
    Targets targets = null;
    AdapterConfig cfg = null;
    if (s.variant().equals("full")) {
      pm.addTrainableBase(new LinkedHashSet<>(base.weights().keySet()));
      trainedBase = 0;
    } else if (s.variant().equals(MemoryEstimator.HEAD_ONLY)) {
      pm.addTrainableBase(head);
    } else {
      AdapterFactory<?> f = registry.get(s.variant());
      List<String> names = s.targets() != null ? s.targets()
          : s.quantized() ? List.of(Targets.ALL_LINEAR) : List.of("query", "value");
      targets = ArchitectureCards.targets(names, base.linearSites());
      cfg = f.defaultConfig().withRankAndAlpha(s.rank(), f.defaultConfig().alpha());
      pm.addAdapter("default", new AdapterSpec(cfg, targets.withModulesToSave("classifier")), 1);
    }
    MemoryBreakdown est = new MemoryEstimator(registry).estimate(shape, s, trainedBase, cfg, targets);
    long afterSetup = MemoryMonitor.settledRssBytes();
    long setupPeak = hwm ? MemoryMonitor.peakRssBytes() : Math.max(sampledStart, afterSetup);
    boolean hwmTrain = hwm && MemoryMonitor.resetPeakRss();
    MemoryLedger ledger = new MemoryLedger();
    long trainPeak;
    try (MemoryMonitor mon = MemoryMonitor.start();
        Trainer.Session session = new Trainer(TrainConfig.of(steps, 1e-4, 1)).start(pm, Objective.classification())) {
      int vocab = ((BertModel) base).config().vocabSize();
      for (int step = 1; step <= steps; step++) {
        session.step(step, (st, micro) -> batch(st, (int) s.batch(), (int) s.seq(), vocab));
        mon.sample();
      }
      pm.addTo(ledger);
      session.addTo(ledger);
      mon.sample();
      trainPeak = hwmTrain ? MemoryMonitor.peakRssBytes() : mon.sampledPeakRssBytes();
    }
    ObjectNode out = json.createObjectNode();
    out.put("variant", s.variant());
    out.put("model", model);
    ObjectNode e = out.putObject("estimate");
    est.byCategory().forEach(e::put);
    e.put("total", est.totalBytes());
    ObjectNode m = out.putObject("measured");
    ledger.byId().forEach(m::put);
    m.put("total", ledger.total());
    m.put("peak_rss", Math.max(setupPeak, trainPeak));
    m.put("peak_rss_delta", Math.max(0, trainPeak - afterSetup));
    m.put("rss_after_setup", afterSetup);
    m.put("peak_rss_source", hwmTrain ? "VmHWM" : "sampled");
    return out;
  }

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
