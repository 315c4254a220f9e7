package dev.loraj.bench.cli;

import dev.loraj.core.adapter.AdapterRegistry;
import dev.loraj.core.checkpoint.PeftAdapters;
import dev.loraj.core.lora.Combination;
import dev.loraj.core.lora.TaskArithmetic;
import dev.loraj.core.model.HfModels;
import dev.loraj.core.model.PeftModel;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;

/**
 * Combines PEFT adapter directories into one, as PEFT's {@code add_weighted_adapter} does (see
 * {@link Combination}), and writes the result as a PEFT directory.
 */
@Command(name = "combine", mixinStandardHelpOptions = true,
    description = "Combine PEFT adapters of one model with weights (PEFT's add_weighted_adapter) and write the"
        + " result as a PEFT adapter directory.")
final class CombineCommand implements Callable<Integer> {

  @Option(names = "--model", required = true, description = "Hugging Face model directory the adapters belong to.")
  Path model;

  @Option(names = "--adapter", required = true,
      description = "PEFT adapter directory and its weight, PATH:WEIGHT (weight 1 when omitted); repeat.")
  List<String> adapters = new ArrayList<>();

  @Option(names = "--method", defaultValue = "svd",
      description = "cat, linear, svd, ties, ties_svd, dare_linear, dare_ties, dare_linear_svd, dare_ties_svd,"
          + " magnitude_prune, magnitude_prune_svd (default: ${DEFAULT-VALUE}, as PEFT).")
  String method;

  @Option(names = "--density", description = "Fraction of values kept by ties, dare_* and magnitude_prune* (0..1).")
  Double density;

  @Option(names = "--majority-sign-method", defaultValue = "total",
      description = "Sign election of ties and dare_ties*: total or frequency (default: ${DEFAULT-VALUE}).")
  String majoritySign;

  @Option(names = "--svd-rank", defaultValue = "0",
      description = "Rank of the *svd results; 0 for the largest rank of the inputs (default).")
  int svdRank;

  @Option(names = "--seed", defaultValue = "0", description = "Seed of DARE's random masks (default: ${DEFAULT-VALUE}).")
  long seed;

  @Option(names = "--out", required = true, description = "Output directory (PEFT adapter_config.json + adapter_model.safetensors).")
  Path out;

  @picocli.CommandLine.Spec picocli.CommandLine.Model.CommandSpec spec;

  /** One {@code --adapter} value. */
  record Weighted(Path dir, double weight) {}

  @Override
  public Integer call() throws Exception {
    Usage.directory(spec, "--model", model);
    Usage.outputDirectory(spec, "--out", out);
    Usage.range(spec, "--svd-rank", svdRank, 0, Integer.MAX_VALUE);
    List<Weighted> inputs = new ArrayList<>();
    for (String a : adapters) {
      Weighted w = parse(a);
      Usage.directory(spec, "--adapter", w.dir());
      inputs.add(w);
    }
    Combination.Method m;
    try {
      m = new Combination.Method(Combination.Type.parse(method), svdRank, density == null ? Double.NaN : density,
          TaskArithmetic.MajoritySign.parse(majoritySign), seed);
    } catch (IllegalArgumentException e) {
      throw new ParameterException(spec.commandLine(), e.getMessage());
    }
    PeftModel pm = new PeftModel(HfModels.load(model), AdapterRegistry.discover());
    List<String> names = new ArrayList<>();
    List<Double> weights = new ArrayList<>();
    for (int i = 0; i < inputs.size(); i++) {
      String name = "input" + i;
      PeftAdapters.load(pm, inputs.get(i).dir(), name);
      names.add(name);
      weights.add(inputs.get(i).weight());
    }
    Combination.combine(pm, "combined", names, weights, m);
    PeftAdapters.save(pm, "combined", out, model.toString());
    System.out.println("wrote " + out + " (" + m.type().peftName() + " of " + inputs.size() + " adapters, "
        + pm.adapter("combined").sites().size() + " modules, " + pm.adapter("combined").trainableParameters()
        + " parameters)");
    return 0;
  }

  /** {@code PATH:WEIGHT}, or {@code PATH} for weight 1 (a path may itself contain ':'). */
  Weighted parse(String value) {
    int colon = value.lastIndexOf(':');
    if (colon > 0) {
      try {
        double w = Double.parseDouble(value.substring(colon + 1));
        if (!Double.isFinite(w)) {
          throw new ParameterException(spec.commandLine(), "--adapter '" + value + "': the weight must be finite");
        }
        return new Weighted(Path.of(value.substring(0, colon)), w);
      } catch (NumberFormatException e) {
        // not a weight: the colon is part of the path
      }
    }
    return new Weighted(Path.of(value), 1.0);
  }
}
