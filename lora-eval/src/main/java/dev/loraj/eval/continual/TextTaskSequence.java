package dev.loraj.eval.continual;

import dev.loraj.core.model.BaseModel;
import dev.loraj.core.model.PeftModel;
import dev.loraj.eval.task.TextClassificationTask;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Shipped text-classification data sets (spam, sotu-party, sotu-era, source) as one task
 * sequence on the pretrained all-MiniLM-L6-v2 encoder, the classifier {@code classifier} over
 * the union of their labels (see {@link TaskSequence} for the block-wise heads).
 */
public final class TextTaskSequence implements TaskSequence {

  private final List<String> datasets;
  private final List<TextClassificationTask> tasks;

  public TextTaskSequence(List<String> datasets, int maxLength, int trainExamples, int testExamples, long seed) {
    if (datasets.size() < 2) {
      throw new IllegalArgumentException("datasets = " + datasets + ": a sequence needs at least 2");
    }
    this.datasets = List.copyOf(datasets);
    this.tasks = datasets.stream()
        .map(d -> new TextClassificationTask(d, maxLength, trainExamples, testExamples, seed))
        .toList();
  }

  @Override
  public List<String> taskIds() {
    return datasets;
  }

  @Override
  public int classes(int task) {
    return tasks.get(task).numLabels();
  }

  @Override
  public BaseModel newBaseModel() {
    return tasks.get(0).newBaseModel(totalClasses());
  }

  @Override
  public List<String> headModules() {
    return List.of("classifier");
  }

  @Override
  public Map<String, INDArray> trainBatch(int task, long seed, long step, int batchSize) {
    Map<String, INDArray> b = new HashMap<>(tasks.get(task).trainBatches(seed, batchSize).get(step, 0));
    int[] y = b.remove("labels").argMax(1).toIntVector();
    TaskSequence.putLabels(b, y, offset(task), classes(task), totalClasses());
    return b;
  }

  @Override
  public Map<String, String> dataSha256() {
    Map<String, String> m = new java.util.LinkedHashMap<>();
    for (int t = 0; t < datasets.size(); t++) {
      m.put(datasets.get(t), tasks.get(t).datasetSha256());
    }
    return m;
  }

  @Override
  public double accuracy(PeftModel model, int task) {
    int off = offset(task);
    int k = classes(task);
    return tasks.get(task).evaluate(batch -> TaskSequence.block(model.output(batch), off, k).dup())
        .get("accuracy");
  }
}
