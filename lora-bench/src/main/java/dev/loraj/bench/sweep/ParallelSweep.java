package dev.loraj.bench.sweep;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A sweep whose trials run {@code jobs} at a time, each in a JVM of its own ({@code lora sweep
 * CONFIG --out DIR --trial ID}), with {@code threadsPerJob} threads ({@code -Dloraj.threads}).
 *
 * <p>The output is the serial run's: this JVM prepares the directory once (clean-up of killed
 * writers, the definition's claim), every trial writes only its own record, adapter folder and
 * checkpoint, atomically, and the report is built from {@code trials/} afterwards, so trial ids,
 * records (times aside) and report rows are those of {@code --jobs 1}. Trials are handed out
 * longest expected first ({@link #expectedCost}) as workers free up. A separate JVM per trial also gives each trial a clean heap and
 * native memory of its own.
 *
 * <p>Kill and resume: a worker ends when this JVM ends (it watches its parent), and this JVM
 * ends its workers when it is stopped; a trial killed mid-way leaves no record (its temporary
 * files are removed by the next run, which runs it again). A worker that dies without writing a
 * record counts as failed in this run's outcome and runs again on a rerun.
 */
public final class ParallelSweep {
  private ParallelSweep() {}

  /** The main class of the {@code lora} command line, which runs the workers. */
  public static final String MAIN = "dev.loraj.bench.cli.LoraCli";

  /**
   * Runs the unfinished trials of one shard on {@code jobs} worker JVMs.
   *
   * @param configFile the sweep file the workers read (the same definition as {@code cfg})
   * @param workerOptions options of {@code lora sweep} every worker gets too (e.g. --keep-failed)
   */
  public static SweepRunner.Outcome run(SweepRunner runner, SweepConfig cfg, Path configFile, Path dir,
      int shardIndex, int shardCount, int jobs, int threadsPerJob, List<String> workerOptions,
      PrintStream log) throws IOException, InterruptedException {
    if (jobs < 1) {
      throw new IllegalArgumentException("--jobs = " + jobs + ": must be >= 1");
    }
    if (threadsPerJob < 1) {
      throw new IllegalArgumentException("threads per job = " + threadsPerJob + ": must be >= 1");
    }
    List<TrialSpec> mine = runner.prepare(cfg, dir, shardIndex, shardCount);
    List<TrialSpec> todo = new ArrayList<>();
    for (TrialSpec t : mine) {
      if (!runner.finished(dir, t)) {
        todo.add(t);
      }
    }
    // longest first, so that the last trials to start are short ones and no worker waits long
    // for the last one to end; the output does not depend on the order
    todo.sort(Comparator.comparingDouble(ParallelSweep::expectedCost).reversed());
    log.printf("sweep %s: %d trial(s) to run on %d worker JVM(s), %d thread(s) each%n", cfg.name(),
        todo.size(), jobs, threadsPerJob);
    Set<Process> live = ConcurrentHashMap.newKeySet();
    Thread stopWorkers = new Thread(() -> live.forEach(Process::destroy));
    Runtime.getRuntime().addShutdownHook(stopWorkers);
    AtomicInteger failed = new AtomicInteger();
    ExecutorService pool = Executors.newFixedThreadPool(jobs);
    try {
      List<Future<?>> done = new ArrayList<>();
      for (TrialSpec t : todo) {
        done.add(pool.submit(() -> {
          List<String> args = new ArrayList<>(List.of("sweep", configFile.toAbsolutePath().toString(),
              "--out", dir.toAbsolutePath().toString(), "--trial", t.id()));
          args.addAll(workerOptions);
          List<String> cmd = ChildJvm.command(workerJvmOptions(threadsPerJob), MAIN, args);
          Process p = new ProcessBuilder(cmd).redirectOutput(ProcessBuilder.Redirect.INHERIT)
              .redirectError(ProcessBuilder.Redirect.INHERIT).start();
          live.add(p);
          int rc;
          try {
            rc = p.waitFor();
          } finally {
            live.remove(p);
          }
          if (!runner.finished(dir, t) || rc != 0) {
            failed.incrementAndGet();
            if (!java.nio.file.Files.exists(SweepRunner.trialFile(dir, t.id()))) {
              log.println("trial " + t.id() + ": its worker JVM ended (exit " + rc + ") without a record");
            }
          }
          return null;
        }));
      }
      for (Future<?> f : done) {
        try {
          f.get();
        } catch (java.util.concurrent.ExecutionException e) {
          throw new IOException("starting a worker JVM failed: " + e.getCause().getMessage(), e.getCause());
        }
      }
    } finally {
      pool.shutdownNow();
      live.forEach(Process::destroy);
      try {
        Runtime.getRuntime().removeShutdownHook(stopWorkers);
      } catch (IllegalStateException e) {
        // the JVM is shutting down: the hook runs anyway
      }
    }
    return new SweepRunner.Outcome(mine.size(), mine.size() - todo.size(), todo.size(), failed.get());
  }

  /**
   * A trial's expected cost relative to others of the same sweep: examples seen (steps x batch)
   * times the method's relative step cost, measured on the quickstart (full fine-tuning about 2x
   * a LoRA step, head-only about 0.4x; every adapter within 1.35x of LoRA).
   */
  static double expectedCost(TrialSpec t) {
    double perExample = TrialSpec.FULL_FT.equals(t.variant()) ? 2.0
        : TrialSpec.HEAD_ONLY.equals(t.variant()) ? 0.4 : 1.0;
    return perExample * t.train().steps() * t.batchSize();
  }

  /**
   * A worker's JVM options: its thread count, and (unless this JVM sets its own) as many
   * processors as threads, so that the JVM sizes its collector and compiler thread pools for its
   * share of the machine rather than for all of it.
   */
  static List<String> workerJvmOptions(int threadsPerJob) {
    List<String> o = new ArrayList<>(List.of("-Dloraj.threads=" + threadsPerJob));
    boolean own = ManagementFactory.getRuntimeMXBean().getInputArguments().stream()
        .anyMatch(a -> a.startsWith("-XX:ActiveProcessorCount"));
    if (!own) {
      o.add("-XX:ActiveProcessorCount=" + threadsPerJob);
    }
    return o;
  }

  /**
   * Makes this JVM, a worker, end when the JVM that started it ends: a killed {@code lora sweep
   * --jobs N} leaves no trial running.
   */
  public static void endWithParent() {
    ProcessHandle.current().parent().ifPresent(p -> p.onExit().thenRun(() -> Runtime.getRuntime().halt(143)));
  }
}
