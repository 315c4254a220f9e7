package dev.loraj.core;

import static org.assertj.core.api.Assertions.assertThat;

import dev.loraj.core.adapter.AdapterRegistry;
import dev.loraj.core.adapter.AdapterSpec;
import dev.loraj.core.checkpoint.PeftAdapters;
import dev.loraj.core.golden.PeftGolden;
import dev.loraj.core.lora.LoraConfig;
import dev.loraj.core.model.BaseModel;
import dev.loraj.core.model.HfModels;
import dev.loraj.core.model.PeftModel;
import dev.loraj.core.model.Targets;
import dev.loraj.core.train.Batches;
import dev.loraj.core.train.Objective;
import dev.loraj.core.train.TrainConfig;
import dev.loraj.core.train.TrainResult;
import dev.loraj.core.train.Trainer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * The README's "Java API in ten lines", compiled and run on a tiny Llama checkpoint; the README
 * must show exactly the lines between the markers below, so the example cannot go stale.
 */
class ReadmeExampleTest {

  private static final Path SOURCE = Path.of("src/test/java/dev/loraj/core/ReadmeExampleTest.java");
  private static final Path README = Path.of("../README.md");
  private static final String BEGIN = "// README example: begin";
  private static final String END = "// README example: end";

  @TempDir Path tmp;

  /** A next-token batch of one fixed token stream: input_ids [2, 7] and label_ids [14] (the next tokens). */
  private static Map<String, INDArray> nextTokens(long step, int vocab) {
    long[][] ids = new long[2][7];
    long[] next = new long[14];
    for (int b = 0; b < 2; b++) {
      for (int t = 0; t < 7; t++) {
        ids[b][t] = (step * 5 + b * 11 + t * 3) % vocab;
        next[b * 7 + t] = (step * 5 + b * 11 + (t + 1) * 3) % vocab;
      }
    }
    return Map.of("input_ids", Nd4j.createFromArray(ids), "label_ids", Nd4j.createFromArray(next));
  }

  @Test
  void theExampleTrainsSavesAndMerges() throws Exception {
    Path modelDir = PeftGolden.root().resolve("llama-tiny");
    Path adapterDir = tmp.resolve("adapter");
    Batches batches = (step, micro) -> nextTokens(step % 4, 64);
    Map<String, INDArray> inputs = Map.of("input_ids", Nd4j.createFromArray(new long[][] {{3, 14, 15, 9, 26}}));
    // README example: begin
    AdapterRegistry registry = AdapterRegistry.discover();                  // every variant on the class path
    BaseModel base = HfModels.load(modelDir);                               // config.json + model.safetensors
    PeftModel model = new PeftModel(base, registry);
    model.addAdapter("default", new AdapterSpec(LoraConfig.of(8, 16), Targets.of("q_proj", "v_proj")), 42);
    TrainResult r = new Trainer(TrainConfig.of(20, 1e-2, 42))
        .train(model, Objective.tokenCrossEntropy(), batches);  // batches: input_ids + next-token label_ids
    INDArray logits = model.output(inputs);                                 // base + adapter, unmerged
    PeftAdapters.save(model, "default", adapterDir);                        // PEFT loads this directory
    BaseModel merged = model.mergeAndUnload();                              // a plain model with W + dW
    // README example: end
    List<Double> losses = r.losses(); // the 4 batches cycle: compare the first and the last cycle
    assertThat(losses).hasSize(20);
    assertThat(losses.subList(16, 20).stream().mapToDouble(d -> d).sum())
        .isLessThan(losses.subList(0, 4).stream().mapToDouble(d -> d).sum());
    assertThat(adapterDir.resolve("adapter_config.json")).isRegularFile();
    assertThat(adapterDir.resolve("adapter_model.safetensors")).isRegularFile();
    INDArray mergedLogits = new PeftModel(merged, registry).output(inputs);
    assertThat(PeftGolden.maxAbsDiff(mergedLogits, logits)).isLessThan(1e-4);
  }

  @Test
  void theReadmeShowsTheExampleAsCompiled() throws Exception {
    List<String> source = Files.readAllLines(SOURCE);
    List<String> example = new ArrayList<>();
    boolean in = false;
    for (String line : source) {
      if (line.trim().equals(END)) {
        break;
      }
      if (in) {
        example.add(line.substring(Math.min(4, line.length())));
      }
      in |= line.trim().equals(BEGIN);
    }
    assertThat(example).hasSizeGreaterThan(5);
    String readme = Files.readString(README);
    assertThat(readme).as("README.md shows the example of %s as one block", SOURCE)
        .contains("```java\n" + String.join("\n", example) + "\n```\n");
  }
}
