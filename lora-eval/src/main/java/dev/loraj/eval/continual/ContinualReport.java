package dev.loraj.eval.continual;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import javax.imageio.ImageIO;

/**
 * Mean and spread (sample standard deviation) of AA, BWT and forgetting per method over all its
 * runs (seeds x orders), as Markdown, CSV and JSON, plus a heat map PNG of R per method and order
 * (averaged over seeds; plain java.awt, no chart library).
 */
public final class ContinualReport {

  private final List<ContinualRun> runs;

  public ContinualReport(List<ContinualRun> runs) {
    this.runs = List.copyOf(runs);
  }

  /** One row of the table. */
  public record Row(String method, int runs, double aaMean, double aaStd, double bwtMean, double bwtStd,
      double forgettingMean, double forgettingStd) {}

  public List<Row> rows() {
    Map<ContinualMethod, List<ContinualRun>> by = byMethod();
    List<Row> out = new ArrayList<>();
    by.forEach((m, rs) -> {
      double[] aa = rs.stream().mapToDouble(ContinualRun::averageAccuracy).toArray();
      double[] bwt = rs.stream().mapToDouble(ContinualRun::backwardTransfer).toArray();
      double[] f = rs.stream().mapToDouble(ContinualRun::meanForgetting).toArray();
      out.add(new Row(m.id(), rs.size(), mean(aa), std(aa), mean(bwt), std(bwt), mean(f), std(f)));
    });
    return out;
  }

  private Map<ContinualMethod, List<ContinualRun>> byMethod() {
    Map<ContinualMethod, List<ContinualRun>> by = new LinkedHashMap<>();
    for (ContinualRun r : runs) {
      by.computeIfAbsent(r.method(), k -> new ArrayList<>()).add(r);
    }
    return by;
  }

  public String markdown() {
    StringBuilder sb = new StringBuilder("| method | runs | AA | BWT | forgetting |\n|---|---:|---:|---:|---:|\n");
    for (Row r : rows()) {
      sb.append(String.format(Locale.ROOT, "| %s | %d | %.4f ± %.4f | %+.4f ± %.4f | %.4f ± %.4f |%n",
          r.method(), r.runs(), r.aaMean(), r.aaStd(), r.bwtMean(), r.bwtStd(), r.forgettingMean(), r.forgettingStd()));
    }
    return sb.toString();
  }

  public String csv() {
    StringBuilder sb = new StringBuilder("method,runs,aa_mean,aa_std,bwt_mean,bwt_std,forgetting_mean,forgetting_std\n");
    for (Row r : rows()) {
      sb.append(String.format(Locale.ROOT, "%s,%d,%.6f,%.6f,%.6f,%.6f,%.6f,%.6f%n", r.method(), r.runs(),
          r.aaMean(), r.aaStd(), r.bwtMean(), r.bwtStd(), r.forgettingMean(), r.forgettingStd()));
    }
    return sb.toString();
  }

  /** Writes {@code continual.md/.csv/.json} and {@code heatmap-<method>-<order>.png} into {@code dir}. */
  public List<Path> write(Path dir) throws IOException {
    Files.createDirectories(dir);
    List<Path> written = new ArrayList<>();
    written.add(Files.writeString(dir.resolve("continual.md"), markdown()));
    written.add(Files.writeString(dir.resolve("continual.csv"), csv()));
    Map<String, Object> json = new LinkedHashMap<>();
    json.put("summary", rows());
    json.put("runs", runs.stream().map(r -> Map.of("method", r.method().id(), "seed", r.seed(), "order", r.order(),
        "accuracy", r.accuracy(), "aa", r.averageAccuracy(), "bwt", r.backwardTransfer(),
        "forgetting", ContinualMetrics.forgetting(r.accuracy()))).toList());
    Path j = dir.resolve("continual.json");
    new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValue(j.toFile(), json);
    written.add(j);
    byMethod().forEach((m, rs) -> {
      Map<List<String>, List<double[][]>> byOrder = new LinkedHashMap<>();
      rs.forEach(r -> byOrder.computeIfAbsent(r.order(), k -> new ArrayList<>()).add(r.accuracy()));
      int k = 0;
      for (Map.Entry<List<String>, List<double[][]>> e : byOrder.entrySet()) {
        Path png = dir.resolve("heatmap-" + m.id() + "-order" + k++ + ".png");
        try {
          heatMap(meanMatrix(e.getValue()), e.getKey(), m.id() + " (mean of " + e.getValue().size() + " seeds)", png);
        } catch (IOException ex) {
          throw new java.io.UncheckedIOException(ex);
        }
        written.add(png);
      }
    });
    return written;
  }

  static double[][] meanMatrix(List<double[][]> ms) {
    int n = ms.get(0).length;
    double[][] m = new double[n][n];
    for (double[][] r : ms) {
      for (int i = 0; i < n; i++) {
        for (int j = 0; j < n; j++) {
          m[i][j] += r[i][j] / ms.size();
        }
      }
    }
    return m;
  }

  /** A heat map of R (rows: after training task i; columns: tested on task j), values in [0, 1]. */
  public static void heatMap(double[][] r, List<String> tasks, String title, Path png) throws IOException {
    System.setProperty("java.awt.headless", "true");
    int n = r.length;
    int cell = 70;
    int left = 130;
    int top = 60;
    BufferedImage img = new BufferedImage(left + n * cell + 20, top + n * cell + 40, BufferedImage.TYPE_INT_RGB);
    Graphics2D g = img.createGraphics();
    g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
    g.setColor(Color.WHITE);
    g.fillRect(0, 0, img.getWidth(), img.getHeight());
    g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
    g.setColor(Color.BLACK);
    g.drawString(title, 10, 20);
    g.drawString("rows: after training; columns: tested on", 10, 40);
    for (int i = 0; i < n; i++) {
      g.setColor(Color.BLACK);
      g.drawString(shorten(tasks.get(i)), 5, top + i * cell + cell / 2 + 5);
      g.drawString(shorten(tasks.get(i)), left + i * cell + 4, top + n * cell + 18);
      for (int j = 0; j < n; j++) {
        double v = Math.max(0, Math.min(1, r[i][j]));
        g.setColor(new Color((float) (1 - 0.8 * v), (float) (1 - 0.5 * v), 1f)); // white -> blue
        g.fillRect(left + j * cell, top + i * cell, cell, cell);
        g.setColor(v > 0.6 ? Color.WHITE : Color.BLACK);
        g.drawString(String.format(Locale.ROOT, "%.3f", r[i][j]), left + j * cell + 15, top + i * cell + cell / 2 + 5);
      }
    }
    g.dispose();
    ImageIO.write(img, "png", png.toFile());
  }

  private static String shorten(String s) {
    return s.length() > 14 ? s.substring(0, 14) : s;
  }

  private static double mean(double[] v) {
    double s = 0;
    for (double x : v) {
      s += x;
    }
    return s / v.length;
  }

  private static double std(double[] v) {
    if (v.length < 2) {
      return 0;
    }
    double m = mean(v);
    double s = 0;
    for (double x : v) {
      s += (x - m) * (x - m);
    }
    return Math.sqrt(s / (v.length - 1));
  }
}
