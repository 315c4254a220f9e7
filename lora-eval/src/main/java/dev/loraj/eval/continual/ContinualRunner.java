package dev.loraj.eval.continual;

import dev.loraj.core.adapter.AdapterRegistry;
import dev.loraj.core.adapter.AdapterSpec;
import dev.loraj.core.lora.LoraConfig;
import dev.loraj.core.model.PeftModel;
import dev.loraj.core.model.Targets;
import dev.loraj.core.train.Batches;
import dev.loraj.core.train.Objective;
import dev.loraj.core.train.TrainConfig;
import dev.loraj.core.train.Trainer;
import dev.loraj.variants.continual.AttentionalMixtureLora;
import dev.loraj.variants.continual.OrthogonalLora;
import java.util.ArrayList;
import java.util.List;

/**
 * The continual-learning protocol: tasks in a given order on one frozen base (a fresh copy per
 * run); after each task, accuracy on every task, giving the n x n matrix of {@link ContinualRun}.
 *
 * <p>How each method keeps and combines its task adapters:
 * <ul>
 *   <li>seq-lora: one LoRA, trained task after task (a fresh Adam per task);</li>
 *   <li>o-lora: adapter {@code task<i>} per task, orthogonal to the earlier ones; after its task
 *       it is merged into the base, which freezes it and makes inference the sum of all task
 *       LoRAs (no task id);</li>
 *   <li>am-lora: adapter {@code task<i>} per task holding copies of the earlier LoRAs (frozen) and
 *       gates; only the newest is active;</li>
 *   <li>per-task (upper bound): a LoRA per task, the task's own activated when testing it
 *       (tasks not yet trained are tested with the newest);</li>
 *   <li>multi-task (upper bound): one LoRA on batches cycling over all tasks for steps x n steps;
 *       there is no sequence, so every row of R is the final model (BWT = 0 by construction).</li>
 * </ul>
 * The head (block per task, see {@link TaskSequence}) trains with every method.
 */
public final class ContinualRunner {

  private final TaskSequence sequence;
  private final ContinualSettings settings;
  private final AdapterRegistry registry;

  public ContinualRunner(TaskSequence sequence, ContinualSettings settings) {
    this.sequence = sequence;
    this.settings = settings;
    this.registry = AdapterRegistry.discover();
  }

  public ContinualRun run(ContinualMethod method, List<Integer> order, long seed) {
    int n = order.size();
    checkOrder(order);
    PeftModel model = new PeftModel(sequence.newBaseModel(), registry);
    Targets targets = settings.targets();
    // one head shared by every task's adapter and trained with each of them (not a per-adapter
    // modules_to_save copy, which would start each task from the untrained head)
    model.addTrainableBase(targets.withModulesToSave(sequence.headModules().toArray(String[]::new))
        .resolveModulesToSave(model.base().weights().keySet()));
    double[][] r = new double[n][n];
    List<String> names = new ArrayList<>();
    if (method == ContinualMethod.MULTI_TASK) {
      model.addAdapter("joint", new AdapterSpec(lora(), targets), seed);
      train(model, (step, micro) -> {
        int task = order.get((int) ((step - 1) % n));
        return sequence.trainBatch(task, seed * 7919 + task, (step - 1) / n + 1, settings.batchSize());
      }, settings.steps() * n, seed);
      double[] row = evaluate(model, order);
      for (int i = 0; i < n; i++) {
        r[i] = row.clone();
      }
      return new ContinualRun(method, seed, ids(order), r);
    }
    for (int i = 0; i < n; i++) {
      int task = order.get(i);
      String name = "task" + i;
      switch (method) {
        case SEQ_LORA -> {
          if (i == 0) {
            model.addAdapter("seq", new AdapterSpec(lora(), targets), seed);
          }
        }
        case O_LORA -> model.addAdapter(name, new AdapterSpec(new OrthogonalLora.Config(settings.rank(),
            settings.alpha(), 0.0, settings.lambda1(), settings.lambda2(), settings.penalty(), names), targets),
            seed * 100 + i);
        case AM_LORA -> model.addAdapter(name, new AdapterSpec(new AttentionalMixtureLora.Config(settings.rank(),
            settings.alpha(), 0.0, settings.amL1(), names), targets), seed * 100 + i);
        case PER_TASK -> model.addAdapter(name, new AdapterSpec(lora(), targets), seed * 100 + i);
        default -> throw new IllegalStateException("unhandled method " + method);
      }
      if (method != ContinualMethod.SEQ_LORA) {
        model.setActive(name);
        names.add(name);
      }
      train(model, (step, micro) -> sequence.trainBatch(task, seed * 7919 + task, step, settings.batchSize()),
          settings.steps(), seed * 100 + i);
      if (method == ContinualMethod.O_LORA) {
        model.merge(name); // frozen from now on; inference = base + sum of task LoRAs
      }
      if (method == ContinualMethod.PER_TASK) {
        for (int j = 0; j < n; j++) {
          model.setActive("task" + Math.min(j, i));
          r[i][j] = sequence.accuracy(model, order.get(j));
        }
        model.setActive(name);
      } else {
        r[i] = evaluate(model, order);
      }
    }
    return new ContinualRun(method, seed, ids(order), r);
  }

  private LoraConfig lora() {
    return LoraConfig.of(settings.rank(), settings.alpha());
  }

  private void train(PeftModel model, Batches batches, int steps, long seed) {
    Objective objective = TaskSequence.objective();
    new Trainer(TrainConfig.of(steps, settings.learningRate(), seed)).train(model, objective, batches);
  }

  private double[] evaluate(PeftModel model, List<Integer> order) {
    double[] row = new double[order.size()];
    for (int j = 0; j < order.size(); j++) {
      row[j] = sequence.accuracy(model, order.get(j));
    }
    return row;
  }

  private List<String> ids(List<Integer> order) {
    return order.stream().map(t -> sequence.taskIds().get(t)).toList();
  }

  private void checkOrder(List<Integer> order) {
    int n = sequence.taskIds().size();
    if (order.size() != n || order.stream().distinct().count() != n
        || order.stream().anyMatch(t -> t < 0 || t >= n)) {
      throw new IllegalArgumentException("order = " + order + ": must be a permutation of 0.." + (n - 1)
          + " (tasks " + sequence.taskIds() + ")");
    }
  }
}
