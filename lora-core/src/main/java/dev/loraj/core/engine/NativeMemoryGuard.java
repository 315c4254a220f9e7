package dev.loraj.core.engine;

/**
 * Collects garbage when libnd4j's live native bytes have grown well past what was live after
 * the last collection.
 *
 * <p>ND4J frees an array's native buffer only when the JVM collects the Java object, and the
 * arrays a SameDiff step or an inference pass leaves behind are small on the heap but large
 * off it: with a nearly empty heap the JVM sees no reason to collect, and native memory piles up.
 * Measured on a MiniLM continual run (batch 16 x 32 tokens, AM-LoRA, -Xmx3g): RSS swung between
 * 2.5 and 12.6 GiB, falling only at the JVM's own collections; SameDiff's array cache was not the
 * cause (the same run with it disabled peaked the same). JavaCPP's {@code maxbytes} does not help
 * because these buffers are allocated by libnd4j, outside JavaCPP's count.
 *
 * <p>Policy (like a heap's growth policy): after a collection the live native bytes are noted
 * (the first check collects to get a level without garbage);
 * {@link #check()} collects again once the live bytes exceed twice that, and at least
 * a minimum growth more (default 512 MiB, system property
 * {@code loraj.native.gcGrowthBytes}; 0 disables the guard; {@code loraj.native.gcVerbose=true}
 * logs each collection). The check is one JNI counter read.
 */
public final class NativeMemoryGuard {
  private static final boolean VERBOSE = Boolean.getBoolean("loraj.native.gcVerbose");
  private static final NativeMemoryGuard DEFAULT =
      new NativeMemoryGuard(Long.getLong("loraj.native.gcGrowthBytes", 512L << 20));

  private final long minGrowth;
  private long liveAfterGc = -1;
  private long collections;

  NativeMemoryGuard(long minGrowthBytes) {
    this.minGrowth = minGrowthBytes;
  }

  /** Collects if native memory has grown past the threshold of the process-wide guard. */
  public static boolean check() {
    return DEFAULT.checkNow();
  }

  /** The process-wide guard (for logs and tests). */
  public static NativeMemoryGuard global() {
    return DEFAULT;
  }

  synchronized boolean checkNow() {
    if (minGrowth <= 0) {
      return false;
    }
    long now = MemoryMonitor.offHeapBytes();
    if (now < 0) {
      return false;
    }
    if (liveAfterGc < 0) {
      // The first check notes a level measured after a collection: the level read mid-run
      // includes the garbage of the steps so far (on MiniLM ~1.2 GiB after the first step, which
      // let the next collection wait until 2.8 GiB).
      System.gc();
      liveAfterGc = Math.max(0, settledOffHeapBytes());
      return false;
    }
    if (now > threshold()) {
      long t0 = System.nanoTime();
      System.gc();
      collections++;
      liveAfterGc = Math.max(0, settledOffHeapBytes());
      if (VERBOSE) {
        System.err.printf(java.util.Locale.ROOT, "native guard: %d MiB live -> %d MiB after gc (%.0f ms), rss %d MiB%n",
            now >> 20, liveAfterGc >> 20, (System.nanoTime() - t0) / 1e6, MemoryMonitor.rssBytes() >> 20);
      }
      return true;
    }
    return false;
  }

  /**
   * ND4J's deallocator threads free the collected buffers some time after the collection (they
   * poll a reference queue): waits until the counter has fallen and then stayed put for 20 ms, or
   * 100 ms if it does not fall at all, at most 1 s. A shorter wait (stop at the first unchanged
   * 5 ms sample) read the level before the frees on a busy machine ("3104 MiB live -> 3104 MiB
   * after gc" on MiniLM), which set the next threshold at twice the garbage.
   */
  static long settledOffHeapBytes() {
    long start = System.nanoTime();
    long last = MemoryMonitor.offHeapBytes();
    boolean fell = false;
    int unchanged = 0;
    while (true) {
      try {
        Thread.sleep(5);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return last;
      }
      long now = MemoryMonitor.offHeapBytes();
      if (now < last) {
        fell = true;
        unchanged = 0;
      } else {
        unchanged++;
      }
      last = now;
      long waitedMs = (System.nanoTime() - start) / 1_000_000;
      if ((fell && unchanged >= 4) || (!fell && waitedMs >= 100) || waitedMs >= 1000) {
        return last;
      }
    }
  }

  /**
   * Forgets the level noted after the last collection, so the next check measures a fresh one:
   * a run that starts after a larger one (a sweep's next trial) does not inherit its threshold.
   */
  public synchronized void reset() {
    liveAfterGc = -1;
  }

  /** The live-bytes level at which the next check collects. */
  public synchronized long threshold() {
    return Math.max(2 * liveAfterGc, liveAfterGc + minGrowth);
  }

  /** Collections this guard triggered so far. */
  public synchronized long collections() {
    return collections;
  }
}
