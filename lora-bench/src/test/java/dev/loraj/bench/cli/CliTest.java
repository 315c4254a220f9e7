package dev.loraj.bench.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;
import picocli.CommandLine.Model.ArgSpec;

class CliTest {

  static String run(String... args) {
    PrintStream old = System.out;
    ByteArrayOutputStream buf = new ByteArrayOutputStream();
    System.setOut(new PrintStream(buf, true));
    try {
      int rc = LoraCli.commandLine().execute(args);
      assertThat(rc).as("exit code of lora %s", String.join(" ", args)).isZero();
    } finally {
      System.setOut(old);
    }
    return buf.toString();
  }

  @Test
  void variantsListsEveryRegisteredFactoryWithDefaults() {
    String out = run("variants");
    assertThat(out).contains("lora  (dev.loraj.core.lora.Lora)", "dora", "pissa", "adalora", "qlora", "vera")
        .contains("rank", "alpha");
  }

  @Test
  void versionAndHelp() {
    assertThat(run("--version")).startsWith("lora ")
        .contains("ND4J backend CPU, engine optimized", "devices: host CPU");
    assertThat(run("--help")).contains("sweep", "report", "variants", "logits", "params");
    // jmh passes its other options to JMH, but --help is this command's (and JMH's options follow)
    assertThat(run("jmh", "--help")).contains("Usage: lora jmh", "--smoke");
  }

  /**
   * Picocli formats each description string with {@code String.format}: a bare {@code %} makes it
   * print a warning and the raw text, and each array element becomes a line of its own.
   */
  @Test
  void everyDescriptionFormats() {
    List<String> descriptions = new ArrayList<>();
    collectDescriptions(LoraCli.commandLine(), descriptions);
    assertThat(descriptions).hasSizeGreaterThan(50);
    for (String d : descriptions) {
      assertThat(String.format(d)).as("description %s", d).isNotNull();
    }
  }

  private static void collectDescriptions(CommandLine cl, List<String> out) {
    out.addAll(List.of(cl.getCommandSpec().usageMessage().description()));
    for (ArgSpec arg : cl.getCommandSpec().args()) {
      out.addAll(List.of(arg.description()));
    }
    cl.getSubcommands().values().forEach(sub -> collectDescriptions(sub, out));
  }
}
