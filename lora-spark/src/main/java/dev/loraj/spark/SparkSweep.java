package dev.loraj.spark;

import dev.loraj.bench.sweep.SweepConfig;
import dev.loraj.bench.sweep.SweepRunner;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import org.apache.spark.SparkConf;
import org.apache.spark.api.java.JavaSparkContext;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code spark-submit --class dev.loraj.spark.SparkSweep lora-spark.jar CONFIG [--out DIR]}: the
 * {@code lora sweep} command on a Spark cluster, one trial per task. The master and resources come
 * from spark-submit; run with plain {@code java} (no {@code spark.master} set) it uses
 * {@code local[*]}. Exit code 0 when every trial run is ok, 1 when one failed (as {@code lora
 * sweep}).
 */
@Command(name = "spark-sweep", mixinStandardHelpOptions = true,
    description = "Run a sweep on Spark (one trial per task); resumable; writes the same trial files and report as `lora sweep`.")
public final class SparkSweep implements Callable<Integer> {

  @Parameters(index = "0", paramLabel = "CONFIG", description = "Sweep file (YAML or JSON), read on the driver.")
  Path config;

  @Option(names = "--out", paramLabel = "DIR",
      description = "Output directory on the driver (default: runs/<sweep name>).")
  Path out;

  public static void main(String[] args) {
    System.exit(new CommandLine(new SparkSweep()).execute(args));
  }

  @Override
  public Integer call() throws Exception {
    SweepConfig cfg = SweepConfig.read(config);
    Path dir = out != null ? out : Path.of("runs", cfg.name());
    SparkConf conf = new SparkConf().setAppName("lora sweep " + cfg.name()).setIfMissing("spark.master", "local[*]");
    try (JavaSparkContext jsc = new JavaSparkContext(conf)) {
      SweepRunner.Outcome o = SparkSweepRunner.run(jsc, cfg, dir);
      return o.failed() == 0 ? 0 : 1;
    }
  }
}
