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
 * A chart without data is left out.
 */
final class Plots {

  static final String METRIC_VS_PARAMS = "metric_vs_params.png";
  static final String METRIC_VS_MEMORY = "metric_vs_memory.png";
  static final String LOSS_CURVES = "loss_curves.png";
  static final String MEMORY_BY_CATEGORY = "memory_by_category.png";

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

    XYChart loss = new XYChartBuilder().width(WIDTH).height(HEIGHT)
        .title(s.sweepName() + ": training loss (mean over seeds)")
        .xAxisTitle("training step").yAxisTitle("training loss [mean over seeds]").build();
    style(loss);
    loss.getStyler().setDefaultSeriesRenderStyle(XYSeries.XYSeriesRenderStyle.Line);
    int curves = 0;
    Map<String, List<TrialResult>> byGroup = Aggregator.byGroup(trials);
    // rows order (best first), so each group keeps its colour across the charts
    for (GroupSummary r : s.rows()) {
      double[] mean = meanCurve(byGroup.get(r.group()));
      if (mean.length == 0) {
        continue;
      }
      double[] steps = new double[mean.length];
      for (int i = 0; i < steps.length; i++) {
        steps[i] = i + 1;
      }
      loss.addSeries(r.group(), steps, mean).setMarker(SeriesMarkers.NONE);
      curves++;
    }
    if (curves > 0) {
      plots.add(new Plot(LOSS_CURVES, "training loss curves (mean over seeds per group)", png(loss)));
    }
    return plots;
  }

  /**
   * Mean loss per step over the ok trials that recorded a curve, up to the shortest such curve
   * (so every point averages the same seeds).
   */
  static double[] meanCurve(List<TrialResult> group) {
    List<List<Double>> curves = group.stream().filter(TrialResult::ok)
        .map(TrialResult::lossCurve).filter(c -> !c.isEmpty()).toList();
    if (curves.isEmpty()) {
      return new double[0];
    }
    int len = curves.stream().mapToInt(List::size).min().getAsInt();
    double[] mean = new double[len];
    for (List<Double> c : curves) {
      for (int i = 0; i < len; i++) {
        mean[i] += c.get(i) / curves.size();
      }
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
