package dev.loraj.eval.continual;

import dev.loraj.core.adapter.AdapterRegistry;
import dev.loraj.core.lora.Fill;
import dev.loraj.core.model.BaseModel;
import dev.loraj.core.model.MlpModel;
import dev.loraj.core.model.PeftModel;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * A fast synthetic task sequence (tests, CI): one random "pretrained" tanh MLP body
 * [w, w, w]; task t's labels come from a teacher that is the body plus its own rank-k shift of
 * both hidden layers and its own sharp head (as {@code SyntheticClassificationTask}, one teacher
 * per task). The tasks need different hidden-layer updates, so one adapter fine-tuned through
 * the sequence is pulled between them. Everything derives from {@code seed}.
 */
public final class SyntheticTaskSequence implements TaskSequence {

  private final int tasks;
  private final int width;
  private final int classes;
  private final long seed;
  private final Map<String, INDArray> body = new LinkedHashMap<>();
  private final List<PeftModel> teachers = new ArrayList<>();
  private final List<INDArray> testX = new ArrayList<>();
  private final List<int[]> testY = new ArrayList<>();

  public SyntheticTaskSequence(int tasks, int width, int classes, int shiftRank, int testExamples, long seed) {
    if (tasks < 2) {
      throw new IllegalArgumentException("tasks = " + tasks + ": a sequence needs at least 2");
    }
    this.tasks = tasks;
    this.width = width;
    this.classes = classes;
    this.seed = seed;
    MlpModel base = MlpModel.random(List.of(width, width, width, classes), MlpModel.Activation.TANH, true, seed);
    base.weights().forEach((k, v) -> {
      if (k.startsWith("layers.")) {
        body.put(k, v);
      }
    });
    for (int t = 0; t < tasks; t++) {
      SplittableRandom rnd = new SplittableRandom(seed * 7919 + 101 * t + 1);
      Map<String, INDArray> w = new LinkedHashMap<>();
      base.weights().forEach((k, v) -> w.put(k, v.dup()));
      for (String layer : List.of("layers.0.weight", "layers.1.weight")) {
        INDArray u = Fill.normal(new long[] {width, shiftRank}, 1.0 / Math.sqrt(width), rnd);
        INDArray v = Fill.normal(new long[] {shiftRank, width}, 1.0, rnd);
        w.get(layer).addi(u.mmul(v).muli(0.8)); // [w, k] x [k, w]
      }
      INDArray head = Fill.normal(new long[] {classes, width}, 4.0 / Math.sqrt(width), rnd);
      w.put("head.weight", head);
      w.get("head.bias").assign(0);
      teachers.add(new PeftModel(base.withWeights(w), AdapterRegistry.of(List.of())));
      INDArray x = Fill.normal(new long[] {testExamples, width}, 1.0, new SplittableRandom(seed * 31 + t + 7));
      testX.add(x);
      testY.add(labels(t, x));
    }
  }

  private int[] labels(int task, INDArray x) {
    return teachers.get(task).output(Map.of("x", x)).argMax(1).toIntVector();
  }

  @Override
  public List<String> taskIds() {
    List<String> ids = new ArrayList<>();
    for (int t = 0; t < tasks; t++) {
      ids.add("syn" + t);
    }
    return ids;
  }

  @Override
  public int classes(int task) {
    return classes;
  }

  @Override
  public BaseModel newBaseModel() {
    Map<String, INDArray> w = new LinkedHashMap<>();
    body.forEach((k, v) -> w.put(k, v.dup()));
    INDArray head = Fill.normal(new long[] {totalClasses(), width}, 0.02, new SplittableRandom(seed + 99));
    w.put("head.weight", head);
    w.put("head.bias", org.nd4j.linalg.factory.Nd4j.zeros(org.nd4j.linalg.api.buffer.DataType.FLOAT, totalClasses()));
    return new MlpModel(List.of(width, width, width, totalClasses()), MlpModel.Activation.TANH, true, w);
  }

  @Override
  public List<String> headModules() {
    return List.of("head");
  }

  @Override
  public Map<String, INDArray> trainBatch(int task, long seed, long step, int batchSize) {
    SplittableRandom rnd = new SplittableRandom(seed * 1_000_003L + step * 31 + task);
    INDArray x = Fill.normal(new long[] {batchSize, width}, 1.0, rnd);
    Map<String, INDArray> b = new HashMap<>();
    b.put("x", x);
    TaskSequence.putLabels(b, labels(task, x), offset(task), classes, totalClasses());
    return b;
  }

  @Override
  public double accuracy(PeftModel model, int task) {
    INDArray logits = model.output(Map.of("x", testX.get(task)));
    return TaskSequence.accuracy(TaskSequence.block(logits, offset(task), classes), testY.get(task));
  }
}
