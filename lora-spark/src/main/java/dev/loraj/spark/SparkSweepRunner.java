package dev.loraj.spark;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.loraj.bench.report.Report;
import dev.loraj.bench.sweep.SweepConfig;
import dev.loraj.bench.sweep.SweepPlan;
import dev.loraj.bench.sweep.SweepRunner;
import dev.loraj.bench.sweep.TrialSpec;
import dev.loraj.core.adapter.AdapterRegistry;
import dev.loraj.core.adapter.ConfigCodec;
import dev.loraj.core.io.AtomicFiles;
import dev.loraj.eval.task.Task;
import dev.loraj.eval.task.Tasks;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CompletionService;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorCompletionService;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.spark.SparkContext;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;

/**
 * Runs a sweep on Apache Spark: each trial is one Spark task, and the driver writes the same
 * {@code DIR/trials/<id>.json} files, {@code DIR/adapters/<id>/} and report as the local
 * {@link SweepRunner}.
 *
 * <p>Order of work on the driver:
 * <ol>
 *   <li>plan the sweep with {@link SweepPlan} (same trials and ids as the local runner), write
 *       {@code sweep.json};
 *   <li>delete the temporary files of writers killed before their rename, and skip every trial
 *       whose file already holds a successful record (a resumed sweep runs the rest, trials that
 *       failed included, as the local runner does);
 *   <li>run each remaining trial as its own one-partition RDD and one-task job, submitted from
 *       a driver thread, so trials run in parallel on the executors, each result comes back as
 *       soon as its trial ends, and a task Spark gives up on fails only its own trial (jobs over
 *       one shared RDD are aborted together when one of its stages fails);
 *   <li>write each result's adapter and then its trial file atomically as it arrives: a driver
 *       killed mid-sweep keeps every trial that had finished, and a rerun skips them;
 *   <li>write the report ({@link Report#generate}).
 * </ol>
 *
 * <p>Failures: a trial that throws inside the trial runner is recorded by it as failed, exactly
 * as in a local sweep. When Spark itself gives up on a trial's task (the executor died, after
 * {@code spark.task.maxFailures} attempts) the trial is recorded as failed with Spark's message;
 * the other trials are unaffected. A rerun runs failed trials again.
 *
 * <p>Memory and timing fields are measured on the executor: where several trials share an
 * executor JVM ({@code spark.executor.cores} > 1, or {@code local[N]}) the process-wide peaks
 * (RSS, off-heap) include the neighbours' use. Set {@code spark.executor.cores=1} (or
 * {@code spark.task.cpus} to the executor's cores) for clean memory columns.
 */
public final class SparkSweepRunner {

  /**
   * At most this many trials wait on the driver at once, each on one blocked driver thread;
   * more than a typical cluster has cores for single-trial tasks.
   */
  static final int MAX_IN_FLIGHT = 256;

  private final AdapterRegistry registry;
  private final ObjectMapper json;
  private final PrintStream log;

  private SparkSweepRunner(AdapterRegistry registry, PrintStream log) {
    this.registry = registry;
    this.json = new ConfigCodec(registry).jsonMapper();
    this.log = log;
  }

  /** Runs {@code cfg} into {@code outDir} on {@code sc}, logging to standard error. */
  public static SweepRunner.Outcome run(SparkContext sc, SweepConfig cfg, Path outDir) throws IOException {
    return run(JavaSparkContext.fromSparkContext(sc), cfg, outDir, System.err);
  }

  /** Runs {@code cfg} into {@code outDir} on {@code jsc}, logging to standard error. */
  public static SweepRunner.Outcome run(JavaSparkContext jsc, SweepConfig cfg, Path outDir) throws IOException {
    return run(jsc, cfg, outDir, System.err);
  }

  /**
   * Runs the sweep's unfinished trials as Spark tasks, writes their trial files and the report.
   * Variants are discovered the same way on the driver and the executors (ServiceLoader over
   * the application jar), so both plan the same trials.
   *
   * @return planned trials, skipped (already finished), run, and failed among those run
   */
  public static SweepRunner.Outcome run(JavaSparkContext jsc, SweepConfig cfg, Path outDir, PrintStream log)
      throws IOException {
    return new SparkSweepRunner(AdapterRegistry.discover(), log).sweep(jsc, cfg, outDir);
  }

  private SweepRunner.Outcome sweep(JavaSparkContext jsc, SweepConfig cfg, Path dir) throws IOException {
    long t0 = System.nanoTime();
    SweepPlan plan = SweepPlan.of(cfg, registry);
    Path trials = dir.resolve("trials");
    Files.createDirectories(trials);
    SweepRunner.removeDebris(dir);
    SweepRunner.claim(json, dir, SweepRunner.sweepRecord(json, cfg, plan), false);

    Map<String, TrialSpec> todo = new LinkedHashMap<>();
    int skipped = 0;
    for (TrialSpec spec : plan.trials()) {
      if (SweepRunner.finished(json, trials.resolve(spec.id() + ".json"), false)) {
        skipped++;
        log.println("skip " + spec.id() + " (finished)");
      } else {
        todo.put(spec.id(), spec);
      }
    }
    log.printf(Locale.ROOT, "spark sweep %s: %d trials planned, %d already done, %d to run as Spark tasks on %s%n",
        cfg.name(), plan.trials().size(), skipped, todo.size(), jsc.master());
    int failed = 0;
    if (!todo.isEmpty()) {
      failed = runTrials(jsc, cfg, dir, new ArrayList<>(todo.values()));
    }
    log.printf(Locale.ROOT, "spark sweep %s: %d run (%d failed), %d skipped in %.1f s%n",
        cfg.name(), todo.size(), failed, skipped, (System.nanoTime() - t0) / 1e9);
    Report.generate(dir);
    log.println("report: " + dir.resolve(Report.REPORT_MD).toAbsolutePath());
    return new SweepRunner.Outcome(plan.trials().size(), skipped, todo.size(), failed);
  }

  /** One Spark job of one task per trial; returns how many of them failed. */
  private int runTrials(JavaSparkContext jsc, SweepConfig cfg, Path dir, List<TrialSpec> specs)
      throws IOException {
    TrialTask body = new TrialTask(SweepRecords.configJson(json, cfg));
    AtomicInteger threadNo = new AtomicInteger();
    ExecutorService pool = Executors.newFixedThreadPool(Math.min(specs.size(), MAX_IN_FLIGHT), r -> {
      Thread t = new Thread(r, "lora-spark-trial-" + threadNo.incrementAndGet());
      t.setDaemon(true);
      return t;
    });
    CompletionService<Done> done = new ExecutorCompletionService<>(pool);
    // one job group for this sweep's jobs: an interrupted sweep cancels its own jobs only
    String group = "lora-sweep-" + cfg.name() + "-" + Long.toHexString(System.nanoTime());
    for (TrialSpec spec : specs) {
      done.submit(() -> {
        jsc.setJobGroup(group, "lora trial " + spec.id(), false);
        try {
          // its own one-partition RDD: Spark aborts every running job whose RDD lineage holds a
          // failed stage's RDD, so trials sharing one RDD would all fail with one lost task
          JavaRDD<TrialOutput> trial = jsc.parallelize(List.of(spec.id()), 1).map(body);
          return new Done(spec, trial.collect().get(0), null);
        } catch (Exception e) { // SparkException (checked, undeclared by Scala): Spark gave up
          return new Done(spec, null, e);
        }
      });
    }
    int failed = 0;
    int n = 0;
    Task driverTask = null;
    try {
      while (n < specs.size()) {
        n++;
        Done d = done.take().get();
        ObjectNode record;
        if (d.output() != null) {
          record = (ObjectNode) SweepRecords.readTree(json, d.output().json());
          if (!d.output().adapter().isEmpty()) {
            Path adapterDir = dir.resolve("adapters").resolve(d.spec().id());
            Files.createDirectories(adapterDir);
            for (Map.Entry<String, byte[]> f : d.output().adapter().entrySet()) {
              byte[] bytes = f.getValue();
              AtomicFiles.write(adapterDir.resolve(f.getKey()), out -> out.write(bytes));
            }
          }
        } else {
          if (driverTask == null) {
            driverTask = driverTask(cfg);
          }
          record = SweepRecords.failed(json, cfg, d.spec(), driverTask,
              "spark task failed: " + rootMessage(d.error()));
        }
        AtomicFiles.writeString(dir.resolve("trials").resolve(d.spec().id() + ".json"),
            json.writerWithDefaultPrettyPrinter().writeValueAsString(record));
        if (!"ok".equals(record.path("status").asText())) {
          failed++;
        }
        log.println(progressLine(n, specs.size(), d, record));
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("spark sweep " + cfg.name() + " interrupted; finished trials are saved", e);
    } catch (ExecutionException e) {
      throw new IllegalStateException("driver thread failed: " + e.getCause(), e.getCause());
    } finally {
      if (n < specs.size()) {
        jsc.cancelJobGroup(group); // the driver stopped early: do not leave trials running
      }
      pool.shutdownNow();
    }
    return failed;
  }

  private String progressLine(int n, int total, Done d, ObjectNode record) {
    String where = d.output() == null ? "" : " on " + d.output().executor();
    String head = String.format(Locale.ROOT, "[%d/%d] trial %s%s", n, total, d.spec().id(), where);
    if ("ok".equals(record.path("status").asText())) {
      return head + ": " + record.path("metrics") + " in "
          + String.format(Locale.ROOT, "%.1f", record.path("train_seconds").asDouble()) + " s";
    }
    return head + " failed: " + record.path("error").asText();
  }

  /**
   * The task, built on the driver only to label a trial Spark gave up on (task id, dataset,
   * metric direction) as the executor would have; null if it cannot be built here.
   */
  private static Task driverTask(SweepConfig cfg) {
    try {
      return Tasks.create(cfg.task());
    } catch (RuntimeException e) {
      return null;
    }
  }

  private static String rootMessage(Throwable e) {
    Throwable t = e;
    while (t.getCause() != null && t.getCause() != t) {
      t = t.getCause();
    }
    String msg = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
    // Spark's message already carries the executor-side cause; keep its first line only
    int nl = msg.indexOf('\n');
    return (nl < 0 ? msg : msg.substring(0, nl)) + (t != e ? " (cause: " + t.getClass().getSimpleName() + ")" : "");
  }

  /** One finished partition: the task's output, or the error that ended the job. */
  private record Done(TrialSpec spec, TrialOutput output, Exception error) {}
}
