package dev.loraj.bench.cli;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.options.ChainedOptionsBuilder;
import org.openjdk.jmh.runner.options.CommandLineOptions;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;
import picocli.CommandLine.Command;
import picocli.CommandLine.Unmatched;

/**
 * {@code lora jmh [--smoke] [JMH options] [benchmark regex]}: the JMH benchmarks inside the
 * shaded jar. {@code --smoke} is the CI-length run: every benchmark (or those the regex selects)
 * in this JVM, one 200 ms warm-up and one 200 ms measurement iteration: it checks that they run,
 * its numbers are not measurements.
 */
@Command(name = "jmh", description = "Run the JMH benchmarks (all JMH command-line options accepted,"
    + " e.g. -wi 1 -i 2 -f 1); --smoke: every benchmark once, in-process, 1 short warm-up and"
    + " 1 short iteration (CI).")
final class JmhCommand implements Callable<Integer> {

  /** The package of the project's benchmarks (a JMH include regex). */
  static final String ALL = "dev\\.loraj\\.bench\\.jmh\\.";

  @Unmatched
  List<String> args = new ArrayList<>();

  @picocli.CommandLine.Spec picocli.CommandLine.Model.CommandSpec spec;

  @Override
  public Integer call() throws Exception {
    List<String> rest = new ArrayList<>(args);
    if (rest.contains("--help")) {
      // this command's usage, then JMH's own options (JMH spells its help -h)
      spec.commandLine().usage(spec.commandLine().getOut());
      spec.commandLine().getOut().flush();
      new CommandLineOptions("-h").showHelp();
      return 0;
    }
    boolean smoke = rest.remove("--smoke");
    try {
      new CommandLineOptions(rest.toArray(String[]::new)); // JMH's own usage errors: one line, exit 2
    } catch (org.openjdk.jmh.runner.options.CommandLineOptionException e) {
      throw new picocli.CommandLine.ParameterException(spec.commandLine(), "JMH options " + rest + ": " + e.getMessage());
    }
    if (!smoke) {
      org.openjdk.jmh.Main.main(rest.toArray(String[]::new));
      return 0;
    }
    new Runner(smokeOptions(rest).build()).run();
    return 0;
  }

  /** The smoke run's options; other JMH options in {@code rest} (a regex, -p, -rf) still apply. */
  static ChainedOptionsBuilder smokeOptions(List<String> rest) throws Exception {
    CommandLineOptions cli = new CommandLineOptions(rest.toArray(String[]::new));
    ChainedOptionsBuilder b = new OptionsBuilder().parent(cli)
        .forks(0)
        .warmupIterations(1).warmupTime(TimeValue.milliseconds(200))
        .measurementIterations(1).measurementTime(TimeValue.milliseconds(200));
    if (cli.getIncludes().isEmpty()) {
      b.include(ALL);
    }
    return b;
  }
}
