package dev.loraj.core.engine;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryMXBean;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicLong;
import org.bytedeco.javacpp.Pointer;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Measures memory while a block of work runs: peaks of live ND4J native bytes (libnd4j's device
 * counter, which counts host allocations on the CPU backend), JVM heap in use, and process RSS,
 * sampled every few milliseconds by a daemon thread. JavaCPP's {@code Pointer.totalBytes()} reads
 * 0 with ND4J (it allocates natively), so it is not used (docs/memory.md).
 */
public final class MemoryMonitor implements AutoCloseable {

  /** Peaks seen between {@link #start} and {@link #close}, and the values at start. */
  public record Peaks(long offHeapBytes, long heapBytes, long rssBytes, long offHeapAtStart, long heapAtStart) {}

  private final AtomicLong offHeap = new AtomicLong();
  private final AtomicLong heap = new AtomicLong();
  private final AtomicLong rss = new AtomicLong();
  private final long offHeapStart;
  private final long heapStart;
  private final Thread sampler;
  private volatile boolean running = true;

  private MemoryMonitor(long intervalMillis) {
    offHeapStart = offHeapBytes();
    heapStart = heapBytes();
    sample();
    sampler = new Thread(() -> {
      while (running) {
        sample();
        try {
          Thread.sleep(intervalMillis);
        } catch (InterruptedException e) {
          return;
        }
      }
    }, "memory-monitor");
    sampler.setDaemon(true);
    sampler.start();
  }

  public static MemoryMonitor start() {
    return new MemoryMonitor(5);
  }

  /** Call at points of interest (after a step) so peaks between samples are not missed. */
  public void sample() {
    offHeap.accumulateAndGet(offHeapBytes(), Math::max);
    heap.accumulateAndGet(heapBytes(), Math::max);
    rss.accumulateAndGet(rssBytes(), Math::max);
  }

  public Peaks peaks() {
    return new Peaks(offHeap.get(), heap.get(), rss.get(), offHeapStart, heapStart);
  }

  @Override
  public void close() {
    running = false;
    sampler.interrupt();
    sample();
  }

  /** Live native bytes allocated by libnd4j. */
  public static long offHeapBytes() {
    try {
      return Nd4j.getEnvironment().getDeviceCouner(0);
    } catch (RuntimeException | UnsatisfiedLinkError e) {
      return -1;
    }
  }

  /**
   * Live native bytes after a full collection, once ND4J's deallocator threads have freed what
   * it found: the bytes something still references (for diagnostics and tests; costs a full GC
   * and up to a second).
   */
  public static long offHeapBytesAfterGc() {
    System.gc();
    return NativeMemoryGuard.settledOffHeapBytes();
  }

  private static final MemoryMXBean MX = ManagementFactory.getMemoryMXBean();

  public static long heapBytes() {
    return MX.getHeapMemoryUsage().getUsed();
  }

  /** Resident set size of the process (JavaCPP reads /proc). */
  public static long rssBytes() {
    try {
      return Pointer.physicalBytes();
    } catch (RuntimeException | UnsatisfiedLinkError e) {
      return -1;
    }
  }

  /**
   * Resets the process's peak resident set (VmHWM) to its current resident set, by writing "5" to
   * {@code /proc/self/clear_refs} (Linux 4.0 and later); false where that is not allowed, and
   * the caller falls back to sampled peaks.
   */
  public static boolean resetPeakRss() {
    try {
      Files.writeString(Path.of("/proc/self/clear_refs"), "5");
      return true;
    } catch (IOException | RuntimeException e) {
      return false;
    }
  }

  /**
   * Collects garbage, waits for ND4J to free the collected buffers, hands the freed native memory
   * back to the system ({@link #trimNativeHeap}) and returns the resident set then: what the
   * process really holds at this point, not what an earlier, larger run left in the allocator.
   */
  public static long settledRssBytes() {
    offHeapBytesAfterGc();
    trimNativeHeap();
    return rssBytes();
  }

  /**
   * glibc's {@code malloc_trim(0)}: returns the free pages of every malloc arena to the system
   * (libnd4j allocates with malloc, and glibc keeps freed memory resident for reuse, so the
   * resident set after a large run stays at that run's size). False where there is no glibc.
   */
  public static boolean trimNativeHeap() {
    try {
      com.sun.jna.Function trim = com.sun.jna.NativeLibrary.getInstance("c").getFunction("malloc_trim");
      trim.invokeInt(new Object[] {0});
      return true;
    } catch (UnsatisfiedLinkError | RuntimeException e) {
      return false;
    }
  }

  /** The peak resident set sampled since {@link #start} (not VmHWM). */
  public long sampledPeakRssBytes() {
    return rss.get();
  }

  /** Restarts the sampled peaks at the current values (a new phase of the same run). */
  public void restartPeaks() {
    offHeap.set(offHeapBytes());
    heap.set(heapBytes());
    rss.set(rssBytes());
  }

  /** Peak RSS of the process so far (VmHWM), or -1 where /proc is absent. */
  public static long peakRssBytes() {
    try {
      for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
        if (line.startsWith("VmHWM:")) {
          return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
        }
      }
    } catch (IOException | NumberFormatException e) {
      // fall through
    }
    return -1;
  }
}
