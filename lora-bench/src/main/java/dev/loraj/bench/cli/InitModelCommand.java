package dev.loraj.bench.cli;

import dev.loraj.core.io.SafetensorsDtype;
import dev.loraj.core.model.ArchitectureCards;
import dev.loraj.core.model.SyntheticCheckpoint;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;

/**
 * {@code lora init-model}: a Hugging Face model directory with random weights at the shape of a
 * decoder card ({@link SyntheticCheckpoint}), so that memory and speed can be measured at real
 * sizes without downloading a model; it loads like any checkpoint.
 */
@Command(name = "init-model", mixinStandardHelpOptions = true,
    description = "Write a loadable Hugging Face directory (config.json + safetensors shards) with random weights"
        + " (N(0, 0.02^2), as transformers initialises) at the shape of a decoder card, streamed tensor by tensor.")
final class InitModelCommand implements Callable<Integer> {

  @Option(names = "--card", required = true, completionCandidates = DecoderCards.class,
      description = "Decoder card: ${COMPLETION-CANDIDATES}.")
  String card;

  @Option(names = "--dtype", defaultValue = "bf16", description = "Weight dtype: bf16, f16, f32 (default: ${DEFAULT-VALUE}).")
  String dtype;

  @Option(names = "--out", required = true, description = "New directory (absent or empty).")
  Path out;

  @Option(names = "--seed", defaultValue = "0", description = "Seed of the weights (default: ${DEFAULT-VALUE}).")
  long seed;

  @Option(names = "--shard-size", defaultValue = "2GB",
      description = "Largest shard: bytes, or with KB/MB/GB (10^3..) or KiB/MiB/GiB (2^10..) (default: ${DEFAULT-VALUE}).")
  String shardSize;

  @picocli.CommandLine.Spec picocli.CommandLine.Model.CommandSpec spec;

  static final class DecoderCards implements Iterable<String> {
    @Override
    public java.util.Iterator<String> iterator() {
      return SyntheticCheckpoint.cards().iterator();
    }
  }

  @Override
  public Integer call() throws Exception {
    SafetensorsDtype d = switch (dtype.toLowerCase(Locale.ROOT)) {
      case "bf16", "bfloat16" -> SafetensorsDtype.BF16;
      case "f16", "fp16", "float16" -> SafetensorsDtype.F16;
      case "f32", "fp32", "float32" -> SafetensorsDtype.F32;
      default -> throw new ParameterException(spec.commandLine(), "--dtype = '" + dtype + "'; accepted: bf16, f16, f32");
    };
    long shard = bytes(spec, "--shard-size", shardSize);
    Usage.outputDirectory(spec, "--out", out);
    ArchitectureCards.Card c = SyntheticCheckpoint.card(card);
    long start = System.nanoTime();
    SyntheticCheckpoint.Written w = SyntheticCheckpoint.write(c, d, out, seed, shard);
    var o = spec.commandLine().getOut();
    o.printf(Locale.ROOT, "%s: %s, %,d parameters, %.2f GB of %s weights in %s (%.1f s)%n", out, card,
        w.parameters(), w.bytes() / 1e9, d, String.join(", ", w.files()), (System.nanoTime() - start) / 1e9);
    o.flush();
    return 0;
  }

  private static final Pattern SIZE = Pattern.compile("(?i)\\s*(\\d+(?:\\.\\d+)?)\\s*(b|kb|mb|gb|kib|mib|gib)?\\s*");

  /** "2GB" -> 2,000,000,000; "1GiB" -> 2^30; "4096" -> 4096 (save_pretrained's units). */
  static long bytes(picocli.CommandLine.Model.CommandSpec spec, String option, String value) {
    Matcher m = SIZE.matcher(value);
    if (!m.matches()) {
      throw new ParameterException(spec.commandLine(), option + " = '" + value
          + "'; expected a size such as 2GB, 500MB, 1GiB or a byte count");
    }
    double n = Double.parseDouble(m.group(1));
    String unit = m.group(2) == null ? "b" : m.group(2).toLowerCase(Locale.ROOT);
    double scale = switch (unit) {
      case "kb" -> 1e3;
      case "mb" -> 1e6;
      case "gb" -> 1e9;
      case "kib" -> 1024.0;
      case "mib" -> 1024.0 * 1024;
      case "gib" -> 1024.0 * 1024 * 1024;
      default -> 1;
    };
    double b = n * scale;
    if (b < 1 || b > Long.MAX_VALUE / 2) {
      throw new ParameterException(spec.commandLine(), option + " = '" + value + "': must be at least 1 byte");
    }
    return (long) b;
  }
}
