package dev.loraj.core.model;

import dev.loraj.core.adapter.SiteInit;
import dev.loraj.core.engine.MemoryLedger;
import dev.loraj.core.model.PeftModel.Built;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * The input statistics of a {@link PeftModel}'s linear sites that data-aware adapter inits read
 * through {@link SiteInit#inputCovariance()}: it runs the model on calibration batches with a
 * probe at every site and keeps, per site, the mean outer product of the site's input rows. Apart
 * from the model because it is a snapshot with its own lifetime, filled and cleared on request,
 * never touched by building or training.
 */
final class InputCalibration {

  private final ForwardGraph graphs;
  /** Mean {@code x^T x} of each site's inputs, by site path, [in, in]. */
  private final Map<String, INDArray> inputCovariances = new LinkedHashMap<>();

  InputCalibration(ForwardGraph graphs) {
    this.graphs = graphs;
  }

  /** See {@link PeftModel#calibrate}. */
  void calibrate(Iterable<Map<String, INDArray>> batches) {
    Map<String, List<String[]>> outputs = new LinkedHashMap<>(); // site -> [gram, rows] names
    Built b = graphs.build(false, null, (site, x) -> {
      List<String[]> hits = outputs.computeIfAbsent(site.path(), k -> new ArrayList<>());
      String prefix = "calibration/" + site.path() + "/" + hits.size();
      SameDiff sd = x.getSameDiff();
      SDVariable gram = sd.mmul(prefix + "/gram", x, x, true, false, false); // [in, n] x [n, in]
      SDVariable rows = sd.sizeAt(prefix + "/rows", x, 0);
      hits.add(new String[] {gram.name(), rows.name()});
    });
    List<String> names = new ArrayList<>();
    outputs.values().forEach(l -> l.forEach(pair -> names.addAll(List.of(pair))));
    Map<String, INDArray> sums = new LinkedHashMap<>();
    Map<String, Long> counts = new LinkedHashMap<>();
    int seen = 0;
    for (Map<String, INDArray> batch : batches) {
      Map<String, INDArray> ph = new HashMap<>();
      for (String in : b.inputs()) {
        if (batch.containsKey(in)) {
          ph.put(in, batch.get(in));
        }
      }
      Map<String, INDArray> res = b.sd().output(ph, names.toArray(String[]::new));
      outputs.forEach((path, hits) -> {
        for (String[] pair : hits) {
          INDArray g = res.get(pair[0]).castTo(DataType.DOUBLE);
          sums.merge(path, g, INDArray::addi);
          counts.merge(path, res.get(pair[1]).getLong(0), Long::sum);
        }
      });
      seen++;
    }
    if (seen == 0) {
      throw new IllegalArgumentException("calibrate: batches is empty; give at least one batch of model inputs");
    }
    inputCovariances.clear();
    sums.forEach((path, sum) -> {
      long n = counts.get(path);
      if (n > 0) {
        inputCovariances.put(path, sum.divi(n).castTo(DataType.FLOAT));
      }
    });
  }

  /** The calibrated input covariance of site {@code path} ([in, in], a copy), if any. */
  Optional<INDArray> inputCovariance(String path) {
    return Optional.ofNullable(inputCovariances.get(path)).map(INDArray::dup);
  }

  void clear() {
    inputCovariances.clear();
  }

  /** Adds the statistics to {@code ledger} as other memory. */
  void addTo(MemoryLedger ledger) {
    ledger.addAll(MemoryLedger.Category.OTHER, inputCovariances.values());
  }
}
