package dev.loraj.bench.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.loraj.bench.sweep.Provenance;
import dev.loraj.core.config.ConfigFiles;
import dev.loraj.core.io.AtomicFiles;
import dev.loraj.eval.continual.ContinualReport;
import dev.loraj.eval.continual.ContinualRun;
import dev.loraj.eval.continual.ContinualRunFiles;
import dev.loraj.eval.continual.ContinualSpec;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code lora continual --config examples/continual.yaml}: the continual-learning comparison. */
@Command(name = "continual", mixinStandardHelpOptions = true,
    description = "Train a task sequence with SeqLoRA, O-LoRA, AM-LoRA and the upper bounds; print"
        + " AA/BWT/forgetting (mean ± sd over seeds and orders) and write the table and heat maps of R."
        + " Each finished run is written to OUT/runs/ at once; a rerun skips the runs already there.")
final class ContinualCommand implements Callable<Integer> {

  @Option(names = "--config", required = true, description = "Continual config (YAML or JSON).")
  Path config;

  @Option(names = "--out", description = "Output directory (default: the config's out, else results/continual).")
  Path out;

  @picocli.CommandLine.Mixin ThreadsOption threads;

  @picocli.CommandLine.Spec picocli.CommandLine.Model.CommandSpec spec;

  @Override
  public Integer call() throws Exception {
    Usage.file(spec, "--config", config);
    threads.apply(spec);
    Usage.outputDirectory(spec, "--out", out);
    JsonNode root = ConfigFiles.readTree(config, "continual config");
    ContinualSpec spec = ContinualSpec.from(root);
    Path dir = out != null ? out : Path.of(spec.out());
    ObjectNode provenance = Provenance.machine(); // read before the runs: the checkout may move on meanwhile
    ContinualRunFiles files = new ContinualRunFiles(dir);
    files.claim(root);
    int total = spec.methods().size() * spec.orders().size() * spec.seeds().size();
    int[] count = {0};
    List<ContinualRun> runs = spec.runAll(files, (r, reused, seconds) -> System.out.printf(Locale.ROOT,
        "[%d/%d] %-10s seed %d order %s: AA %.4f  BWT %+.4f  (%s)%n", ++count[0], total, r.method().id(), r.seed(),
        r.order(), r.averageAccuracy(), r.backwardTransfer(),
        reused ? "already done" : String.format(Locale.ROOT, "%.0f s", seconds)));
    ContinualReport report = new ContinualReport(runs);
    System.out.println();
    System.out.print(report.markdown());
    report.write(dir);
    provenance.set("config", root);
    provenance.set("data_sha256", new ObjectMapper().valueToTree(spec.sequence().dataSha256()));
    String pretty = new ObjectMapper().writerWithDefaultPrettyPrinter().writeValueAsString(provenance);
    AtomicFiles.writeString(dir.resolve("provenance.json"), pretty);
    AtomicFiles.writeString(dir.resolve("continual.md"), report.markdown()
        + "\nMean ± sample standard deviation over seeds x orders. Provenance (config, git revision, JDK,"
        + " machine, data hashes):\n\n```json\n" + pretty + "\n```\n");
    System.out.println("\nwrote " + dir.resolve("continual.md") + ", .csv, .json, provenance.json and heatmap-*.png");
    return 0;
  }
}
