package dev.loraj.bench.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.loraj.core.adapter.AdapterFactory;
import dev.loraj.core.adapter.AdapterRegistry;
import dev.loraj.core.model.ArchitectureCards;
import dev.loraj.core.model.LinearSite;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** Trainable-parameter count of a variant on an architecture card or a model directory. */
@Command(name = "params", mixinStandardHelpOptions = true,
    description = "Count the trainable parameters a variant adds (closed form, no weights loaded)."
        + " Targets may use the aliases query,key,value,output,fc1,fc2 or PEFT module names.")
final class ParamsCommand implements Callable<Integer> {

  @Option(names = "--model", required = true,
      description = "Architecture card (${COMPLETION-CANDIDATES}) or a model directory with config.json.",
      completionCandidates = Cards.class)
  String model;

  @Option(names = "--targets", required = true, split = ",", description = "Target modules, e.g. query,value.")
  List<String> targets;

  @Option(names = "--rank", required = true, description = "Rank r.")
  int rank;

  @Option(names = "--variant", defaultValue = "lora", description = "Registered variant (default: ${DEFAULT-VALUE}).")
  String variant;

  @Option(names = "--json", description = "Print JSON.")
  boolean json;

  static final class Cards implements Iterable<String> {
    @Override
    public java.util.Iterator<String> iterator() {
      return ArchitectureCards.names().iterator();
    }
  }

  @picocli.CommandLine.Spec picocli.CommandLine.Model.CommandSpec spec;

  @Override
  public Integer call() throws Exception {
    Usage.range(spec, "--rank", rank, 1, 1 << 20);
    AdapterFactory<?> factory = AdapterRegistry.discover().get(variant);
    List<LinearSite> sites = ArchitectureCards.sites(model);
    var t = ArchitectureCards.targets(targets, sites);
    int adapted = t.resolve(sites).size();
    long count = ArchitectureCards.trainableParameters(model, targets, rank, factory);
    if (json) {
      Map<String, Object> out = new LinkedHashMap<>();
      out.put("model", model);
      out.put("variant", factory.name());
      out.put("targets", targets);
      out.put("rank", rank);
      out.put("adapted_modules", adapted);
      out.put("trainable_parameters", count);
      System.out.println(new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(out));
    } else {
      System.out.printf("%s  %s r=%d on %s: %,d trainable parameters (%d modules)%n",
          model, factory.name(), rank, String.join(",", targets), count, adapted);
    }
    return 0;
  }
}
