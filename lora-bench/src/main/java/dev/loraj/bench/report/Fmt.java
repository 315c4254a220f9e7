package dev.loraj.bench.report;

import java.util.Locale;

/** Number formatting for the human-readable tables (Locale.ROOT, so output never depends on the machine). */
final class Fmt {

  static final String DASH = "–";
  private static final double MIB = 1024.0 * 1024.0;

  private Fmt() {}

  static String f(String pattern, Object... args) {
    return String.format(Locale.ROOT, pattern, args);
  }

  /** {@code 0.8123 ± 0.0100}; the std is a dash for one seed. */
  static String meanStd(MeanStd m) {
    if (m == null || m.n() == 0) {
      return DASH;
    }
    return f("%.4f", m.mean()) + " ± " + (m.std() == null ? DASH : f("%.4f", m.std()));
  }

  static String metric(double v) {
    return f("%.4f", v);
  }

  /** A signed difference, e.g. {@code +0.0123}. */
  static String signed(double v) {
    return f("%+.4f", v);
  }

  /**
   * A paired difference: {@code +0.0270 [+0.0101, +0.0439], n=5}; without an interval
   * {@code +0.0100, n=1}, and a dash without a common seed.
   */
  static String interval(PairedDifference d) {
    if (d.n() == 0) {
      return DASH;
    }
    return d.low() == null ? signed(d.mean()) + ", n=" + d.n()
        : signed(d.mean()) + " [" + signed(d.low()) + ", " + signed(d.high()) + "], n=" + d.n();
  }

  static String count(long n) {
    return f("%,d", n);
  }

  static String pct(double p) {
    if (Double.isNaN(p)) {
      return DASH;
    }
    if (p >= 10) {
      return f("%.1f%%", p);
    }
    if (p >= 1) {
      return f("%.2f%%", p);
    }
    return f("%.3g%%", p);
  }

  static String mib(MeanStd bytes) {
    return bytes == null || bytes.n() == 0 ? DASH : f("%.1f", bytes.mean() / MIB);
  }

  static double toMib(double bytes) {
    return bytes / MIB;
  }

  static String oneDecimal(double v) {
    return Double.isNaN(v) ? DASH : f("%.1f", v);
  }

  static String oneDecimal(MeanStd m) {
    return m == null || m.n() == 0 ? DASH : oneDecimal(m.mean());
  }

  static String rate(MeanStd m) {
    return m == null || m.n() == 0 ? DASH : f("%,.0f", m.mean());
  }

  static String rank(Integer r) {
    return r == null ? DASH : Integer.toString(r);
  }
}
