package dev.loraj.bench.report;

import dev.loraj.bench.sweep.TrialResult;
import java.awt.Color;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.ToDoubleFunction;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.CategoryChart;
import org.knowm.xchart.CategoryChartBuilder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.Styler;
import org.knowm.xchart.style.markers.SeriesMarkers;

/**
 * The report's charts, rendered headless with XChart to PNG: the primary metric against
 * trainable parameters (log x) and against the memory ledger's total (records without a ledger:
 * peak off-heap memory; one point per group, error bar = sample std over seeds), the ledger by
 * category as one stacked bar per group, and training loss curves (mean over the ok seeds of
 * each group).
 *
 * <p>The loss curves show the task loss (the objective alone); the regularization terms some
 * adapters add to it (AdaLoRA's orthogonality penalty, which starts near 55 in the quickstart
 * where the task loss starts near 1) have a chart of their own. When one curve is far above the
 * others (its highest point more than {@value #OUTLIER_RATIO} times the median of all points), the y axis is
 * logarithmic, or, with a loss at or below zero, clipped at {@value #OUTLIER_RATIO} / 2 times
 * that median; the chart's title says which.
 * A chart without data is left out.
 */
final class Plots {

  static final String METRIC_VS_PARAMS = "metric_vs_params.png";
  static final String METRIC_VS_MEMORY = "metric_vs_memory.png";
  static final String LOSS_CURVES = "loss_curves.png";
  static final String MEMORY_BY_CATEGORY = "memory_by_category.png";
  static final String REGULARIZATION_CURVES = "regularization_curves.png";

  /** A curve whose highest point is this many times the median of all points is an outlier. */
  static final double OUTLIER_RATIO = 10;

  private static final int WIDTH = 1000;
  private static final int HEIGHT = 620;

  private Plots() {}

  /** The charts in a fixed order (caption and file name depend only on the data). */
  static List<Plot> render(Summary s, List<TrialResult> trials) {
    System.setProperty("java.awt.headless", "true");
    List<Plot> plots = new ArrayList<>();
    String pm = s.primaryMetric();
    List<GroupSummary> withMetric = s.rows().stream()
        .filter(r -> r.metric(pm) != null && !Double.isNaN(r.metric(pm).mean())).toList();

    List<GroupSummary> withParams = withMetric.stream().filter(r -> r.trainableParams() > 0).toList();
    if (!withParams.isEmpty()) {
      XYChart c = scatter(s.sweepName() + ": " + pm + " vs trainable parameters",
          "trainable parameters [count, log scale]", pm + " [mean ± std over seeds]");
      boolean distinct = withParams.stream().map(GroupSummary::trainableParams).distinct().count() > 1;
      c.getStyler().setXAxisLogarithmic(distinct);
      addPoints(c, withParams, r -> r.trainableParams(), pm);
      plots.add(new Plot(METRIC_VS_PARAMS, pm + " vs trainable parameters (log scale)", png(c)));
    }

    List<GroupSummary> withLedger = withMetric.stream().filter(r -> r.memoryMean("total") > 0).toList();
    if (!withLedger.isEmpty()) {
      XYChart c = scatter(s.sweepName() + ": " + pm + " vs memory ledger total",
          "memory ledger total: what the run holds, counted from its arrays [MiB]",
          pm + " [mean ± std over seeds]");
      addPoints(c, withLedger, r -> Fmt.toMib(r.memoryMean("total")), pm);
      plots.add(new Plot(METRIC_VS_MEMORY, pm + " vs memory ledger total (MiB)", png(c)));
    } else {
      // records without a ledger: the peak off-heap counter they have
      List<GroupSummary> withMemory =
          withMetric.stream().filter(r -> r.peakOffheapBytes().mean() > 0).toList();
      if (!withMemory.isEmpty()) {
        XYChart c = scatter(s.sweepName() + ": " + pm + " vs peak off-heap memory",
            "peak off-heap (ND4J native) memory [MiB]", pm + " [mean ± std over seeds]");
        addPoints(c, withMemory, r -> Fmt.toMib(r.peakOffheapBytes().mean()), pm);
        plots.add(new Plot(METRIC_VS_MEMORY, pm + " vs peak off-heap memory (MiB)", png(c)));
      }
    }

    List<GroupSummary> ledgers = TableView.memoryOrder(s);
    if (!ledgers.isEmpty()) {
      plots.add(new Plot(MEMORY_BY_CATEGORY, "memory ledger by category per method (MiB, mean over seeds)",
          png(memoryBars(s.sweepName(), ledgers))));
    }

    Map<String, List<TrialResult>> byGroup = Aggregator.byGroup(trials);
    // rows order (best first), so each group keeps its colour across the charts
    Map<String, double[]> task = new java.util.LinkedHashMap<>();
    Map<String, double[]> reg = new java.util.LinkedHashMap<>();
    for (GroupSummary r : s.rows()) {
      List<TrialResult> group = byGroup.get(r.group());
      double[] mean = meanCurve(group, TrialResult::taskLoss);
      if (mean.length > 0) {
        task.put(r.group(), mean);
      }
      double[] penalty = meanCurve(group.stream().filter(t -> !t.taskLossCurve().isEmpty()).toList(),
          Plots::regularization);
      if (penalty.length > 0) {
        reg.put(r.group(), penalty);
      }
    }
    if (!task.isEmpty()) {
      String note = reg.isEmpty() ? "" : "; regularization terms: " + REGULARIZATION_CURVES;
      plots.add(lines(LOSS_CURVES, s.sweepName() + ": training task loss (mean over seeds)",
          "task loss (objective only) [mean over seeds]", task,
          "training task loss curves (mean over seeds per group" + note + ")"));
    }
    if (!reg.isEmpty()) {
      plots.add(lines(REGULARIZATION_CURVES, s.sweepName() + ": regularization terms (mean over seeds)",
          "loss - task loss [mean over seeds]", reg,
          "regularization terms added to the training loss (mean over seeds per group)"));
    }
    return plots;
  }

  /** Per step, the trial's loss minus its task loss (NaN where the task loss is unknown). */
  private static List<Double> regularization(TrialResult t) {
    List<Double> out = new ArrayList<>();
    List<Double> loss = t.lossCurve();
    List<Double> taskLoss = t.taskLoss();
    for (int i = 0; i < Math.min(loss.size(), taskLoss.size()); i++) {
      out.add(loss.get(i) - taskLoss.get(i));
    }
    return out;
  }

  /**
   * A line chart of one curve per group against the training step, readable when one curve is
   * an outlier (see the class comment); the chart's title and the plot's caption say how.
   */
  private static Plot lines(String file, String title, String yTitle, Map<String, double[]> curves, String caption) {
    List<Double> all = new ArrayList<>();
    curves.values().forEach(c -> java.util.Arrays.stream(c).filter(Double::isFinite).forEach(all::add));
    double median = MeanStd.median(all);
    double max = all.stream().mapToDouble(Double::doubleValue).max().orElse(Double.NaN);
    double min = all.stream().mapToDouble(Double::doubleValue).min().orElse(Double.NaN);
    boolean outlier = median > 0 && max > OUTLIER_RATIO * median;
    boolean log = outlier && min > 0;
    double clip = outlier && !log ? OUTLIER_RATIO / 2 * median : Double.POSITIVE_INFINITY;
    String scale = !outlier ? ""
        : log ? " (log scale: highest point over " + Fmt.f("%.0f", OUTLIER_RATIO) + "x the median)"
        : " (y clipped at " + Fmt.f("%.3g", clip) + ", " + Fmt.f("%.0f", OUTLIER_RATIO / 2) + "x the median: higher"
            + " points drawn at the top edge)";
    XYChart c = new XYChartBuilder().width(WIDTH).height(HEIGHT).title(title + scale)
        .xAxisTitle("training step").yAxisTitle(yTitle + (log ? ", log scale" : "")).build();
    style(c);
    c.getStyler().setDefaultSeriesRenderStyle(XYSeries.XYSeriesRenderStyle.Line);
    c.getStyler().setYAxisLogarithmic(log);
    if (Double.isFinite(clip)) {
      c.getStyler().setYAxisMax(clip);
    }
    for (Map.Entry<String, double[]> e : curves.entrySet()) {
      List<Double> x = new ArrayList<>();
      List<Double> y = new ArrayList<>();
      double[] v = e.getValue();
      for (int i = 0; i < v.length; i++) {
        if (Double.isFinite(v[i])) { // steps a resumed trial restored have no task loss
          x.add(i + 1.0);
          y.add(Math.min(v[i], clip));
        }
      }
      if (!x.isEmpty()) {
        c.addSeries(e.getKey(), x, y).setMarker(SeriesMarkers.NONE);
      }
    }
    return new Plot(file, caption + scale, png(c));
  }

  /**
   * Mean per step over the ok trials that recorded a curve, up to the shortest such curve (so
   * every point averages the same seeds); a step's NaN values (unknown) are left out of its
   * mean, and a step with none known is NaN.
   */
  static double[] meanCurve(List<TrialResult> group, java.util.function.Function<TrialResult, List<Double>> curve) {
    List<List<Double>> curves = group.stream().filter(TrialResult::ok)
        .map(curve).filter(c -> !c.isEmpty()).toList();
    if (curves.isEmpty()) {
      return new double[0];
    }
    int len = curves.stream().mapToInt(List::size).min().getAsInt();
    double[] mean = new double[len];
    for (int i = 0; i < len; i++) {
      double sum = 0;
      int n = 0;
      for (List<Double> c : curves) {
        if (Double.isFinite(c.get(i))) {
          sum += c.get(i);
          n++;
        }
      }
      mean[i] = n == 0 ? Double.NaN : sum / n;
    }
    return mean;
  }

  /** One stacked bar per group (smallest total first), one segment per ledger category. */
  private static CategoryChart memoryBars(String sweep, List<GroupSummary> rows) {
    CategoryChart c = new CategoryChartBuilder().width(WIDTH).height(HEIGHT)
        .title(sweep + ": memory ledger by category (mean over seeds)")
        .xAxisTitle("method").yAxisTitle("bytes held after the last step [MiB]").build();
    c.getStyler().setStacked(true);
    c.getStyler().setLegendPosition(Styler.LegendPosition.OutsideE);
    c.getStyler().setChartBackgroundColor(Color.WHITE);
    c.getStyler().setAntiAlias(true);
    c.getStyler().setXAxisLabelRotation(30);
    // one distinct colour per category, in MemoryLedger's order
    c.getStyler().setSeriesColors(new Color[] {new Color(0x4C72B0), new Color(0x8172B2), new Color(0x55A868),
        new Color(0x64B5CD), new Color(0xC44E52), new Color(0xDD8452), new Color(0x999999)});
    List<String> groups = rows.stream().map(GroupSummary::group).toList();
    for (String k : GroupSummary.MEMORY_CATEGORIES) {
      List<Double> mib = rows.stream().map(r -> {
        double v = r.memoryMean(k);
        return Double.isNaN(v) ? 0.0 : Fmt.toMib(v);
      }).toList();
      c.addSeries(k, groups, mib);
    }
    return c;
  }

  private static XYChart scatter(String title, String x, String y) {
    XYChart c = new XYChartBuilder().width(WIDTH).height(HEIGHT).title(title)
        .xAxisTitle(x).yAxisTitle(y).build();
    style(c);
    c.getStyler().setDefaultSeriesRenderStyle(XYSeries.XYSeriesRenderStyle.Scatter);
    c.getStyler().setMarkerSize(10);
    c.getStyler().setErrorBarsColorSeriesColor(true);
    return c;
  }

  private static void style(XYChart c) {
    c.getStyler().setLegendPosition(Styler.LegendPosition.OutsideE);
    c.getStyler().setChartBackgroundColor(Color.WHITE);
    c.getStyler().setAntiAlias(true);
  }

  private static void addPoints(XYChart c, List<GroupSummary> rows,
      ToDoubleFunction<GroupSummary> x, String pm) {
    for (GroupSummary r : rows) {
      MeanStd m = r.metric(pm);
      double err = m.std() == null ? 0 : m.std();
      c.addSeries(r.group(), new double[] {x.applyAsDouble(r)}, new double[] {m.mean()},
          new double[] {err});
    }
  }

  private static byte[] png(org.knowm.xchart.internal.chartpart.Chart<?, ?> c) {
    try {
      return BitmapEncoder.getBitmapBytes(c, BitmapEncoder.BitmapFormat.PNG);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot encode chart '" + c.getTitle() + "' as PNG", e);
    }
  }
}
