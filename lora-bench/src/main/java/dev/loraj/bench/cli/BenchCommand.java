package dev.loraj.bench.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** {@code lora bench ...}: timing commands outside JMH (the peer comparison uses them). */
@Command(name = "bench", mixinStandardHelpOptions = true,
    description = "Timing commands (see also 'lora jmh').",
    subcommands = {BenchStepCommand.class})
final class BenchCommand implements Runnable {

  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Override
  public void run() {
    spec.commandLine().usage(spec.commandLine().getOut());
  }
}
