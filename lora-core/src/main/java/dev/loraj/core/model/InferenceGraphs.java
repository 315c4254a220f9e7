package dev.loraj.core.model;

import dev.loraj.core.engine.MemoryLedger;
import dev.loraj.core.engine.NativeMemoryGuard;
import dev.loraj.core.graph.Graphs;
import dev.loraj.core.graph.ReplayCache;
import dev.loraj.core.model.PeftModel.Built;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * A {@link PeftModel}'s inference: the plain and mixed-batch forward graphs, cached per model
 * structure version and dropped when the structure changes, and the per-example adapter masks a
 * mixed batch feeds. Kept apart from graph assembly because its state (the graph cache and the
 * replay plans of the plain graph) lives across calls while a build is stateless.
 */
final class InferenceGraphs {

  private final PeftModel model;
  private final ForwardGraph graphs;
  private final Map<List<String>, Built> inferenceCache = new HashMap<>();
  /** Replay plans of the cached plain inference graph (see Graphs.output). */
  private final ReplayCache inferenceReplay = new ReplayCache();
  private long cacheVersion = -1;

  InferenceGraphs(PeftModel model, ForwardGraph graphs) {
    this.model = model;
    this.graphs = graphs;
  }

  /** See {@link PeftModel#output}. */
  INDArray output(Map<String, INDArray> inputs) {
    Built b = cached(null);
    NativeMemoryGuard.check(); // evaluation loops leave one output per batch for the GC
    return Graphs.output(b.sd(), inputs, b.output().name(), inferenceReplay);
  }

  /** See {@link PeftModel#outputMixed}. */
  INDArray outputMixed(Map<String, INDArray> inputs, List<String> perExample) {
    BaseModel base = model.base();
    long batch = base.batchSize(inputs);
    if (perExample.size() != batch) {
      throw new IllegalArgumentException(
          "mixed batch: " + perExample.size() + " adapter names for " + batch + " examples");
    }
    Built b = cached(perExample);
    int rows = base.rowsPerExample(inputs);
    Map<String, INDArray> ph = new HashMap<>(inputs);
    for (String maskName : b.maskInputs()) {
      String an = maskName.substring("mask/".length());
      float[] m = new float[(int) batch * rows];
      for (int i = 0; i < batch; i++) {
        if (perExample.get(i).equals(an)) {
          Arrays.fill(m, i * rows, (i + 1) * rows, 1f);
        }
      }
      ph.put(maskName, Nd4j.create(m, new long[] {m.length, 1}, 'c'));
    }
    return Graphs.output(b.sd(), ph, b.output().name());
  }

  /** The inference graph for the current state (rebuilt after any structural change). */
  Built cached(List<String> mixed) {
    if (cacheVersion != model.version()) {
      inferenceCache.clear();
      inferenceReplay.close(); // the graph is rebuilt: its plans go now rather than at its next run
      cacheVersion = model.version();
    }
    List<String> key = mixed == null ? List.of() : new ArrayList<>(new LinkedHashSet<>(mixed));
    if (mixed != null) {
      key.add(0, "mixed:");
    }
    return inferenceCache.computeIfAbsent(key, k -> graphs.build(false, mixed, null));
  }

  /** Adds the replay buffers of the cached plain graph to {@code ledger} as other memory. */
  void addTo(MemoryLedger ledger) {
    inferenceReplay.addTo(ledger, MemoryLedger.Category.OTHER);
  }
}
