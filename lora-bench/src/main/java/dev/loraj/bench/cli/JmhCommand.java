package dev.loraj.bench.cli;

import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Unmatched;

/** {@code lora jmh [JMH options] [benchmark regex]}: the JMH benchmarks inside the shaded jar. */
@Command(name = "jmh", description = "Run the JMH benchmarks (all JMH command-line options accepted, e.g. -wi 1 -i 2 -f 1).")
final class JmhCommand implements Callable<Integer> {

  @Unmatched
  java.util.List<String> args = new java.util.ArrayList<>();

  @Override
  public Integer call() throws Exception {
    org.openjdk.jmh.Main.main(args.toArray(String[]::new));
    return 0;
  }
}
