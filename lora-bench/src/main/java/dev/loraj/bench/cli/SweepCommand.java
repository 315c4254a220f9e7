package dev.loraj.bench.cli;

import dev.loraj.bench.sweep.ParallelSweep;
import dev.loraj.bench.sweep.SweepConfig;
import dev.loraj.bench.sweep.SweepPlan;
import dev.loraj.bench.sweep.SweepRunner;
import dev.loraj.core.adapter.AdapterRegistry;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code lora sweep CONFIG [--out DIR] [--shard I/N] [--jobs N] [--threads N] [--keep-failed]
 * [--replace-definition]}.
 */
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

  @Option(names = "--jobs", defaultValue = "1", paramLabel = "N",
      description = "Trials run at once, each in a JVM of its own with its share of the threads"
          + " (--threads, else every core, divided by N); same output as one at a time (default: ${DEFAULT-VALUE}).")
  int jobs;

  @Option(names = "--trial", paramLabel = "ID", hidden = true,
      description = "Run only this trial into an --out that a parallel sweep prepared (its workers).")
  String trial;

  @picocli.CommandLine.Mixin ThreadsOption threads;

  @picocli.CommandLine.Spec picocli.CommandLine.Model.CommandSpec spec;

  @Override
  public Integer call() throws Exception {
    Usage.file(spec, "sweep config", config);
    int[] shardOf = Usage.shard(spec, shard);
    int index = shardOf[0];
    int count = shardOf[1];
    Usage.range(spec, "--jobs", jobs, 1, 1024);
    int given = threads.apply(spec);
    SweepConfig cfg = SweepConfig.read(config);
    Path dir = Usage.outputDirectory(spec, "--out", out != null ? out : Path.of("runs", cfg.name()));
    AdapterRegistry registry = AdapterRegistry.discover();
    SweepPlan.of(cfg, registry); // every variant entry decodes (field names, types) before anything is written
    SweepRunner runner = new SweepRunner(registry, System.err, keepFailed, replaceDefinition);
    if (trial != null) {
      ParallelSweep.endWithParent();
      SweepRunner.Outcome o = runner.runOne(cfg, dir, trial);
      return o.failed() == 0 ? 0 : 1;
    }
    long t0 = System.nanoTime();
    SweepRunner.Outcome o;
    if (jobs > 1) {
      int total = given > 0 ? given : Runtime.getRuntime().availableProcessors();
      o = ParallelSweep.run(runner, cfg, config, dir, index, count, jobs, Math.max(1, total / jobs),
          keepFailed ? List.of("--keep-failed") : List.of(), System.err);
    } else {
      o = runner.run(cfg, dir, index, count);
    }
    System.err.printf("sweep %s: %d trials planned for this shard, %d already done, %d run (%d failed) in %.0f s%n",
        cfg.name(), o.planned(), o.skipped(), o.ran(), o.failed(), (System.nanoTime() - t0) / 1e9);
    ReportHook.afterSweep(dir);
    return o.failed() == 0 ? 0 : 1;
  }
}
