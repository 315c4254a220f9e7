package dev.loraj.bench.cli;

import java.io.InputStream;
import java.util.Properties;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code lora} command line: one subcommand per job. */
@Command(
    name = "lora",
    mixinStandardHelpOptions = true,
    versionProvider = LoraCli.Version.class,
    description = "LoRA research framework on the JVM: variants, sweeps, reports, reproductions.",
    subcommands = {VariantsCommand.class, SweepCommand.class, ReportCommand.class, LogitsCommand.class,
        ParamsCommand.class, InitModelCommand.class, CombineCommand.class, JmhCommand.class, QuantErrorCommand.class, ReproduceCommand.class, MemoryCommand.class,
        ContinualCommand.class, BenchCommand.class, CommandLine.HelpCommand.class})
public final class LoraCli implements Runnable {

  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  public static void main(String[] args) {
    System.setProperty("org.nd4j.log.initialization", "false");
    System.exit(commandLine().execute(args));
  }

  /** The configured command line (also used by tests). */
  public static CommandLine commandLine() {
    CommandLine cl = new CommandLine(new LoraCli());
    // usage errors (unknown option, missing or malformed value, out of range): one line, exit 2
    cl.setParameterExceptionHandler((ex, args) -> {
      CommandLine cmd = ex.getCommandLine();
      String hint = "";
      if (ex instanceof CommandLine.UnmatchedArgumentException u && !u.getSuggestions().isEmpty()) {
        hint = "; did you mean " + String.join(" or ", u.getSuggestions().stream().limit(3).toList()) + "?";
      }
      cmd.getErr().println("error: " + oneLine(ex.getMessage()) + hint + " (see '" + cmd.getCommandSpec().qualifiedName()
          + " --help')");
      return CommandLine.ExitCode.USAGE;
    });
    // bad input found while running (a config file, a model directory): one line, exit 2
    cl.setExecutionExceptionHandler((ex, cmd, parsed) -> {
      if (ex instanceof IllegalArgumentException || ex instanceof IllegalStateException
          || ex instanceof java.io.IOException) {
        cmd.getErr().println("error: " + oneLine(ex instanceof java.nio.file.NoSuchFileException nf
            ? nf.getFile() + " does not exist" + (nf.getReason() == null ? "" : ": " + nf.getReason())
            : ex.getMessage()));
        return CommandLine.ExitCode.USAGE;
      }
      throw ex;
    });
    return cl;
  }

  /** A message on one line: line breaks become spaces (an error is one line of output). */
  static String oneLine(String message) {
    return message == null ? "(no message)" : message.strip().replaceAll("\\s*[\\r\\n]+\\s*", " ");
  }

  @Override
  public void run() {
    spec.commandLine().usage(System.out);
  }

  /** Version from the build (filtered resource). */
  public static final class Version implements CommandLine.IVersionProvider {
    @Override
    public String[] getVersion() {
      String jdk = "JDK " + System.getProperty("java.version") + " on " + System.getProperty("os.name")
          + "/" + System.getProperty("os.arch");
      try {
        String note = dev.loraj.core.engine.BlasCheck.pinNote(System.getenv());
        java.util.List<String> lines = new java.util.ArrayList<>(java.util.List.of("lora " + version(), jdk,
            "ND4J " + dev.loraj.core.engine.Engine.current().describe(),
            "devices: " + dev.loraj.core.engine.Engine.devices(),
            "OpenBLAS kernel: " + dev.loraj.core.engine.BlasCheck.coreName()));
        if (note != null) {
          lines.add("note: " + note);
        }
        return lines.toArray(String[]::new);
      } catch (Throwable e) { // ExceptionInInitializerError, UnsatisfiedLinkError: no usable backend
        Throwable root = e;
        while (root.getCause() != null) {
          root = root.getCause();
        }
        return new String[] {"lora " + version(), jdk, "ND4J: no backend could be loaded: " + root};
      }
    }
  }

  public static String version() {
    try (InputStream in = LoraCli.class.getResourceAsStream("/lora-version.properties")) {
      Properties p = new Properties();
      if (in != null) {
        p.load(in);
      }
      return p.getProperty("version", "unknown");
    } catch (java.io.IOException e) {
      return "unknown";
    }
  }
}
