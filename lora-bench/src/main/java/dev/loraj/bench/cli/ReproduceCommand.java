package dev.loraj.bench.cli;

import dev.loraj.bench.memory.BenchReproductions;
import dev.loraj.bench.sweep.Provenance;
import dev.loraj.eval.reproduce.Reproduction;
import dev.loraj.eval.reproduce.ReproductionReport;
import dev.loraj.eval.reproduce.ReproductionResult;
import dev.loraj.eval.reproduce.Reproductions;
import dev.loraj.eval.reproduce.Status;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code lora reproduce}: check published numbers (dev.loraj.eval.reproduce). Exit code 0 when
 * nothing fails (pass, differs-with-explanation and not-yet-implemented are fine), 1 otherwise.
 */
@Command(name = "reproduce", mixinStandardHelpOptions = true,
    description = "Check published numbers: parameter counts, checkpoint sizes, NF4, memory statements,"
        + " and small measured experiments. --list shows the plan; ID runs one; --all writes"
        + " reproductions.md and reproductions.json.")
final class ReproduceCommand implements Callable<Integer> {

  @Parameters(arity = "0..1", paramLabel = "ID", description = "Reproduction id (see --list).")
  String id;

  @Option(names = "--list", description = "List every reproduction with its claim and source.")
  boolean list;

  @Option(names = "--all", description = "Run all and write reproductions.md and .json.")
  boolean all;

  @Option(names = "--quick", description = "Small measured experiments (seconds each), for CI.")
  boolean quick;

  @Option(names = "--out", defaultValue = ".", description = "Directory for --all output (default: ${DEFAULT-VALUE}).")
  Path out;

  @Override
  public Integer call() throws Exception {
    if (list) {
      for (Reproduction r : BenchReproductions.all()) {
        System.out.printf(Locale.ROOT, "%-28s %-8s %s%s%n    claim: %s%n    source: %s%n", r.id(),
            r.kind().name().toLowerCase(Locale.ROOT), r.title(),
            r.implemented() ? "" : "  [not yet implemented]", r.claim(), r.source());
      }
      return 0;
    }
    if (all == (id != null)) {
      System.err.println("give exactly one of --list, --all or a reproduction ID; ids: " + BenchReproductions.ids());
      return 2;
    }
    List<ReproductionResult> results = new ArrayList<>();
    List<Reproduction> todo = all ? BenchReproductions.all() : List.of(BenchReproductions.get(id));
    for (Reproduction r : todo) {
      ReproductionResult res = Reproductions.run(r, quick);
      results.add(res);
      System.out.println(ReproductionReport.summaryLine(res));
    }
    Map<String, String> prov = ReproductionReport.provenance(quick);
    prov.put("git", Provenance.gitRevision());
    prov.put("cpu", Provenance.cpuModel());
    if (all) {
      String command = "./lora reproduce --all" + (quick ? " --quick" : "") + " --out " + out;
      ReproductionReport.write(out, results, prov, command);
      System.out.println("wrote " + out.resolve("reproductions.md") + " and reproductions.json");
    } else {
      System.out.println();
      System.out.print(ReproductionReport.markdown(results, prov));
    }
    return results.stream().anyMatch(r -> r.status() == Status.FAIL) ? 1 : 0;
  }
}
