package dev.loraj.core.model;

import dev.loraj.core.adapter.AdapterRegistry;
import dev.loraj.core.engine.MemoryLedger;
import dev.loraj.core.engine.MemoryMonitor;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Peak resident set of loading a checkpoint as float32, in its own 16-bit type, or quantized to
 * NF4 while it is read (a measurement, not a test; one mode per JVM):
 * {@code LoadPeakMain DIR f32|auto|nf4}. Prints the kernel's peak (VmHWM) and the anonymous and
 * file-backed parts of the resident set after the load, beside the ledger.
 */
public final class LoadPeakMain {
  private LoadPeakMain() {}

  public static void main(String[] args) throws Exception {
    Path dir = Path.of(args[0]);
    String mode = args[1];
    MemoryMonitor.resetPeakRss();
    long before = MemoryMonitor.rssBytes();
    BaseModel m = switch (mode) {
      case "f32" -> HfModels.load(dir, BaseDtype.F32);
      case "auto" -> HfModels.load(dir, BaseDtype.AUTO);
      case "nf4" -> HfModels.load(dir, BaseDtype.AUTO, QuantizeOnLoad.nf4(Targets.allLinear()));
      default -> throw new IllegalArgumentException("mode: " + mode + ", accepted f32, auto, nf4");
    };
    long peak = MemoryMonitor.peakRssBytes();
    MemoryLedger ledger = new MemoryLedger();
    new PeftModel(m, AdapterRegistry.discover()).addTo(ledger);
    String status = Files.readString(Path.of("/proc/self/status"));
    System.out.printf("%s: rss before %.0f MiB, peak %.0f MiB (+%.0f), ledger frozen %.0f MiB quantized %.0f MiB%n",
        mode, before / 1048576.0, peak / 1048576.0, (peak - before) / 1048576.0,
        ledger.bytes(MemoryLedger.Category.FROZEN) / 1048576.0,
        ledger.bytes(MemoryLedger.Category.QUANTIZED) / 1048576.0);
    status.lines().filter(l -> l.startsWith("RssAnon") || l.startsWith("RssFile")).forEach(System.out::println);
  }
}
