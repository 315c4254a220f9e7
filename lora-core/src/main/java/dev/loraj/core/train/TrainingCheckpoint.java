package dev.loraj.core.train;

import dev.loraj.core.adapter.Adapter;
import dev.loraj.core.io.SafetensorsFile;
import dev.loraj.core.io.SafetensorsWriter;
import dev.loraj.core.model.PeftModel;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Everything a training run needs to continue exactly where it stopped, in one safetensors file
 * ({@value #FILE}) written atomically: every trained array (adapter parameters and trained base
 * tensors), Adam's moments of each, the adapters' buffers and hidden training state
 * ({@link Adapter#trainingState()}), the step, and the position of ND4J's random generator (the
 * dropout masks), and the losses and step times so far. The learning-rate schedule and Adam's bias correction are functions of the
 * step, and batches are drawn by step, so a run resumed from step {@code k} computes the same
 * steps {@code k+1 ...} as the uninterrupted run: the same parameters, bit for bit.
 *
 * <p>The file also records the training config; resuming under another config is refused, as is
 * checkpointing an adapter whose training state cannot be captured (ReLoRA's restart generator,
 * AdaLoRA's shared allocator).
 */
public final class TrainingCheckpoint {
  /** The file name inside a checkpoint directory. */
  public static final String FILE = "training_state.safetensors";

  private static final String STEP = "step";
  private static final String CONFIG = "train_config";
  private static final String RNG_ROOT = "rng_root_state";
  private static final String RNG_NODE = "rng_node_state";
  private static final String LOSSES = "losses";
  private static final String STEP_MILLIS = "step_millis";

  /** What a restored run continues from: the step and the history of the steps before it. */
  record Restored(long step, List<Double> losses, List<Double> stepMillis) {}

  private TrainingCheckpoint() {}

  /** Whether {@code dir} holds a checkpoint. */
  public static boolean exists(Path dir) {
    return Files.isRegularFile(dir.resolve(FILE));
  }

  /** Deletes the checkpoint in {@code dir} and the directory, once it is no longer needed. */
  public static void delete(Path dir) throws IOException {
    Files.deleteIfExists(dir.resolve(FILE));
    Files.deleteIfExists(dir);
  }

  /** The step a checkpoint in {@code dir} was taken after. */
  public static long step(Path dir) throws IOException {
    try (SafetensorsFile f = SafetensorsFile.open(dir.resolve(FILE))) {
      return Long.parseLong(f.metadata().get(STEP));
    }
  }

  /** Refuses models with an adapter whose training state a checkpoint cannot hold. */
  static void requireCapturable(PeftModel model) {
    forEachAdapter(model, (prefix, adapter) -> state(prefix, adapter));
  }

  /** Writes the state of {@code session} after optimizer step {@code step} into {@code dir}. */
  static void save(Path dir, Trainer.Session session, TrainConfig config, long step,
      List<Double> losses, List<Double> stepMillis) throws IOException {
    Map<String, INDArray> tensors = arrays(session);
    org.nd4j.linalg.api.rng.Random rng = Nd4j.getRandom();
    Map<String, String> metadata = new LinkedHashMap<>();
    metadata.put(STEP, Long.toString(step));
    metadata.put(CONFIG, config.toString());
    metadata.put(RNG_ROOT, Long.toString(rng.rootState()));
    metadata.put(RNG_NODE, Long.toString(rng.nodeState()));
    metadata.put(LOSSES, join(losses));
    metadata.put(STEP_MILLIS, join(stepMillis));
    Files.createDirectories(dir);
    SafetensorsWriter.write(dir.resolve(FILE), tensors, metadata);
  }

  /**
   * Restores the checkpoint in {@code dir} into {@code session} (arrays in place) and returns
   * the step it was taken after, with the losses and step times of the steps up to it.
   */
  static Restored restore(Path dir, Trainer.Session session, TrainConfig config) throws IOException {
    Path file = dir.resolve(FILE);
    try (SafetensorsFile f = SafetensorsFile.open(file)) {
      Map<String, String> meta = f.metadata();
      if (!config.toString().equals(meta.get(CONFIG))) {
        throw new IllegalStateException(file + " was written by a run with another training"
            + " config (" + meta.get(CONFIG) + "; this run: " + config + "); remove it to start"
            + " over");
      }
      Map<String, INDArray> targets = arrays(session);
      if (!f.names().equals(targets.keySet())) {
        throw new IllegalStateException(file + " holds other arrays than this run trains (in the"
            + " file, not in the run: " + difference(f.names(), targets.keySet()) + "; in the run,"
            + " not in the file: " + difference(targets.keySet(), f.names()) + ")");
      }
      for (Map.Entry<String, INDArray> e : targets.entrySet()) {
        INDArray saved = f.getRaw(e.getKey());
        INDArray live = e.getValue();
        if (!Arrays.equals(saved.shape(), live.shape()) || saved.dataType() != live.dataType()) {
          throw new IllegalStateException(file + ": '" + e.getKey() + "' is " + saved.dataType()
              + Arrays.toString(saved.shape()) + ", the run's is " + live.dataType()
              + Arrays.toString(live.shape()));
        }
        live.assign(saved); // in place: graphs and updaters hold these very arrays
      }
      Nd4j.getRandom().setStates(Long.parseLong(meta.get(RNG_ROOT)), Long.parseLong(meta.get(RNG_NODE)));
      return new Restored(Long.parseLong(meta.get(STEP)), split(meta.get(LOSSES)), split(meta.get(STEP_MILLIS)));
    }
  }

  /** Doubles as text that parses back to the same bits ({@link Double#toString}). */
  private static String join(List<Double> values) {
    return values.stream().map(String::valueOf).collect(java.util.stream.Collectors.joining(","));
  }

  private static List<Double> split(String text) {
    return text == null || text.isEmpty() ? List.of()
        : Arrays.stream(text.split(",")).map(Double::valueOf).toList();
  }

  /** The live arrays a checkpoint holds, by their name in the file. */
  private static Map<String, INDArray> arrays(Trainer.Session session) {
    Map<String, INDArray> arrays = new LinkedHashMap<>();
    for (PeftModel.TrainableVar v : session.trainable()) {
      arrays.put("param/" + v.varName(), v.array());
      arrays.put("adam/" + v.varName(), session.liveOptimizerState(v.varName()));
    }
    forEachAdapter(session.model(), (prefix, adapter) -> {
      adapter.buffers().forEach((k, a) -> arrays.put("buffer/" + prefix + k, a));
      state(prefix, adapter).forEach((k, a) -> arrays.put("state/" + prefix + k, a));
    });
    return arrays;
  }

  private static java.util.Set<String> difference(java.util.Set<String> a, java.util.Set<String> b) {
    java.util.Set<String> d = new java.util.TreeSet<>(a);
    d.removeAll(b);
    return d;
  }

  private static Map<String, INDArray> state(String prefix, Adapter adapter) {
    Optional<Map<String, INDArray>> s = adapter.trainingState();
    if (s.isEmpty()) {
      throw new IllegalStateException("adapter " + prefix.substring(0, prefix.length() - 1)
          + " (" + adapter.config().getClass().getSimpleName() + ") keeps training state that a checkpoint cannot"
          + " hold; run it without training checkpoints");
    }
    return s.get();
  }

  private static void forEachAdapter(PeftModel model, java.util.function.BiConsumer<String, Adapter> body) {
    for (String name : model.adapterNames()) {
      model.adapter(name).sites().forEach((site, adapter) -> body.accept(name + "/" + site + "/", adapter));
    }
  }
}
