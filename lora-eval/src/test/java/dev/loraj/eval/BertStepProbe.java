package dev.loraj.eval;

import dev.loraj.core.adapter.AdapterRegistry;
import dev.loraj.core.adapter.AdapterSpec;
import dev.loraj.core.engine.MemoryMonitor;
import dev.loraj.core.lora.LoraConfig;
import dev.loraj.core.model.PeftModel;
import dev.loraj.core.model.Targets;
import dev.loraj.core.train.TrainConfig;
import dev.loraj.core.train.Trainer;
import dev.loraj.eval.task.TextClassificationTask;

/** Not a test: prints BERT step timings. */
public class BertStepProbe {
  public static void main(String[] args) {
    TextClassificationTask task = new TextClassificationTask(System.getProperty("ds", "sotu-party"), Integer.getInteger("len", 64), 500, 100, 0);
    for (String mode : args) {
      PeftModel pm = new PeftModel(task.newBaseModel(), AdapterRegistry.discover());
      if (mode.equals("full")) {
        pm.addTrainableBase(new java.util.LinkedHashSet<>(pm.base().weights().keySet()));
      } else if (mode.equals("head")) {
        pm.addTrainableBase(java.util.Set.of("classifier.weight", "classifier.bias"));
      } else if (!mode.equals("lora")) {
        var cfg = new dev.loraj.core.adapter.ConfigCodec(AdapterRegistry.discover()).fromYaml("type: " + mode + "\nrank: 8\nalpha: 16\n");
        pm.addAdapter("default", new AdapterSpec(cfg, Targets.of("query", "value").withModulesToSave("classifier")), 1);
      } else {
        pm.addAdapter("default", new AdapterSpec(LoraConfig.of(8, 16), Targets.of("query", "value").withModulesToSave("classifier")), 1);
      }
      long t0 = System.nanoTime();
      var r = new Trainer(TrainConfig.of(Integer.getInteger("steps", 8), 1e-3, 1)).train(pm, task.objective(), task.trainBatches(1, 16));
      System.out.printf("%s: steps %s ms; offheap now %.0f MiB; total %.1f s%n", mode, r.stepMillis(), MemoryMonitor.offHeapBytes() / 1048576.0, (System.nanoTime() - t0) / 1e9);
      long t1 = System.nanoTime();
      System.out.println("eval " + task.evaluate(pm) + " in " + (System.nanoTime() - t1) / 1e9 + " s");
    }
  }
}
