package dev.loraj.bench.progress;

import java.io.PrintStream;
import java.util.Locale;

/**
 * A progress bar on a terminal, plain log lines (about every 10%) otherwise, so long work shows
 * progress in both an interactive shell and a CI log.
 */
public final class Progress implements AutoCloseable {

  private static final boolean TERMINAL = System.console() != null && System.getenv("CI") == null;

  private final String label;
  private final long total;
  private final PrintStream out;
  private final long started = System.nanoTime();
  private long lastLoggedDecile = -1;
  private String status = "";

  public Progress(String label, long total) {
    this(label, total, System.err);
  }

  public Progress(String label, long total, PrintStream out) {
    this.label = label;
    this.total = Math.max(1, total);
    this.out = out;
  }

  public static boolean terminal() {
    return TERMINAL;
  }

  public void update(long done, String status) {
    this.status = status == null ? "" : status;
    double frac = Math.min(1.0, (double) done / total);
    double secs = (System.nanoTime() - started) / 1e9;
    String eta = done > 0 && done < total ? String.format(Locale.ROOT, " eta %.0fs", secs / done * (total - done)) : "";
    if (TERMINAL) {
      int width = 30;
      int filled = (int) Math.round(frac * width);
      out.printf(Locale.ROOT, "\r%-28s [%s%s] %3.0f%% %d/%d %.0fs%s %s\u001b[K", trim(label, 28),
          "#".repeat(filled), ".".repeat(width - filled), 100 * frac, done, total, secs, eta, this.status);
      out.flush();
    } else {
      long decile = (long) Math.floor(frac * 10);
      if (decile != lastLoggedDecile) {
        lastLoggedDecile = decile;
        out.printf(Locale.ROOT, "%s: %d/%d (%.0f%%) %.1fs%s %s%n", label, done, total, 100 * frac, secs, eta, this.status);
      }
    }
  }

  @Override
  public void close() {
    if (TERMINAL) {
      out.println();
    }
  }

  private static String trim(String s, int n) {
    return s.length() <= n ? s : s.substring(0, n - 1) + "~";
  }
}
