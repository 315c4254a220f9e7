package dev.loraj.bench.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.loraj.core.adapter.AdapterRegistry;
import dev.loraj.core.checkpoint.PeftAdapters;
import dev.loraj.core.model.BaseDtype;
import dev.loraj.core.model.HfModels;
import dev.loraj.core.model.PeftModel;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** Runs a Hugging Face causal LM (with PEFT adapters) on one token sequence and prints the logits. */
@Command(name = "logits", mixinStandardHelpOptions = true,
    description = "Print the logits of a model directory (config.json + safetensors) for one token"
        + " sequence, as JSON {\"logits\": [[...] per position]}.")
final class LogitsCommand implements Callable<Integer> {

  @Option(names = "--model", required = true, description = "Hugging Face model directory (gpt2, llama, mistral, qwen2).")
  Path model;

  @Option(names = "--adapter", description = "PEFT adapter directory; repeat to stack adapters (all active).")
  List<Path> adapters = new ArrayList<>();

  @Option(names = "--base-dtype", defaultValue = "f32",
      description = "Type the frozen linear weights are held in: auto (the checkpoint's), bf16, f16"
          + " or f32; computed in float32 either way (default: ${DEFAULT-VALUE}).")
  String baseDtype;

  @Option(names = "--merge", description = "Merge the adapters into the base weights before running.")
  boolean merge;

  @Option(names = "--tokens", required = true, split = ",", description = "Token ids, e.g. 3,14,15.")
  long[] tokens;

  @picocli.CommandLine.Spec picocli.CommandLine.Model.CommandSpec spec;

  @Override
  public Integer call() throws Exception {
    Usage.directory(spec, "--model", model);
    for (Path a : adapters) {
      Usage.directory(spec, "--adapter", a);
    }
    for (long t : tokens) {
      Usage.range(spec, "--tokens", t, 0, Integer.MAX_VALUE);
    }
    BaseDtype dtype = BenchStepCommand.parse("--base-dtype", baseDtype, BaseDtype.class);
    PeftModel pm = new PeftModel(HfModels.load(model, dtype), AdapterRegistry.discover());
    List<String> names = new ArrayList<>();
    for (int i = 0; i < adapters.size(); i++) {
      String name = i == 0 ? "default" : "adapter" + i;
      PeftAdapters.load(pm, adapters.get(i), name);
      names.add(name);
    }
    if (!names.isEmpty()) {
      pm.setActive(names.toArray(String[]::new));
      if (merge) {
        pm.merge();
      }
    } else if (merge) {
      throw new IllegalArgumentException("--merge needs at least one --adapter");
    }
    INDArray ids = Nd4j.createFromArray(tokens).reshape(1, tokens.length).castTo(DataType.INT64);
    INDArray logits = pm.output(Map.of("input_ids", ids)); // [seq, vocab]
    List<float[]> rows = new ArrayList<>();
    for (int i = 0; i < logits.rows(); i++) {
      rows.add(logits.getRow(i).toFloatVector());
    }
    System.out.println(new ObjectMapper().writeValueAsString(Map.of("logits", rows)));
    return 0;
  }
}
