package dev.loraj.bench.cli;

import dev.loraj.bench.sweep.SweepConfig;
import dev.loraj.bench.sweep.SweepRunner;
import dev.loraj.core.adapter.AdapterRegistry;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code lora sweep CONFIG [--out DIR] [--shard I/N] [--keep-failed] [--replace-definition]}. */
@Command(name = "sweep", mixinStandardHelpOptions = true,
    description = "Run a comparison sweep (variants x ranks x seeds x baselines); resumable; writes a report.")
final class SweepCommand implements Callable<Integer> {

  @Parameters(index = "0", paramLabel = "CONFIG", description = "Sweep file (YAML or JSON).")
  Path config;

  @Option(names = "--out", paramLabel = "DIR", description = "Output directory (default: runs/<sweep name>).")
  Path out;

  @Option(names = "--shard", paramLabel = "I/N", description = "Run only shard I of N (1-based), e.g. 2/4.")
  String shard;

  @Option(names = "--keep-failed",
      description = "On a rerun, keep the records of trials that failed instead of running them again.")
  boolean keepFailed;

  @Option(names = "--replace-definition",
      description = "Run a changed sweep file into an --out that holds another definition of it; the"
          + " report then shows only the new definition's trials (without this, the run is refused).")
  boolean replaceDefinition;

  @Override
  public Integer call() throws Exception {
    SweepConfig cfg = SweepConfig.read(config);
    Path dir = out != null ? out : Path.of("runs", cfg.name());
    int index = 0;
    int count = 1;
    if (shard != null) {
      String[] p = shard.split("/");
      if (p.length != 2) {
        throw new IllegalArgumentException("--shard " + shard + ": expected I/N, e.g. 1/4");
      }
      index = Integer.parseInt(p[0].trim()) - 1;
      count = Integer.parseInt(p[1].trim());
    }
    long t0 = System.nanoTime();
    SweepRunner.Outcome o = new SweepRunner(AdapterRegistry.discover(), System.err, keepFailed, replaceDefinition).run(cfg, dir, index, count);
    System.err.printf("sweep %s: %d trials planned for this shard, %d already done, %d run (%d failed) in %.0f s%n",
        cfg.name(), o.planned(), o.skipped(), o.ran(), o.failed(), (System.nanoTime() - t0) / 1e9);
    ReportHook.afterSweep(dir);
    return o.failed() == 0 ? 0 : 1;
  }
}
