package dev.loraj.eval.continual;

import static org.assertj.core.api.Assertions.assertThat;

import dev.loraj.core.adapter.AdapterRegistry;
import dev.loraj.core.adapter.AdapterSpec;
import dev.loraj.core.lora.LoraAdapter;
import dev.loraj.core.lora.LoraConfig;
import dev.loraj.core.model.PeftModel;
import dev.loraj.core.model.Targets;
import dev.loraj.core.train.TrainConfig;
import dev.loraj.core.train.Trainer;
import dev.loraj.variants.continual.OrthogonalLora;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.ndarray.INDArray;

/** The protocol end to end on the fast synthetic sequence. */
class ContinualRunnerTest {

  private static final SyntheticTaskSequence SEQ = new SyntheticTaskSequence(3, 16, 3, 3, 200, 5);

  private static ContinualSettings settings(double lambda1) {
    return new ContinualSettings(30, 32, 1e-2, 2, 4, Targets.allLinear(), lambda1, 0.0,
        OrthogonalLora.Penalty.SQUARED, 0.01);
  }

  @Test
  void everyMethodProducesAnNByNMatrixAndAReport(@TempDir Path dir) throws Exception {
    ContinualRunner runner = new ContinualRunner(SEQ, settings(0.5));
    List<ContinualRun> runs = new java.util.ArrayList<>();
    for (ContinualMethod m : ContinualMethod.values()) {
      ContinualRun r = runner.run(m, List.of(2, 0, 1), 1);
      assertThat(r.accuracy()).hasNumberOfRows(3);
      for (double[] row : r.accuracy()) {
        assertThat(row).hasSize(3);
        for (double v : row) {
          assertThat(v).isBetween(0.0, 1.0);
        }
      }
      assertThat(r.order()).containsExactly("syn2", "syn0", "syn1");
      runs.add(r);
    }
    // the per-task upper bound never forgets: its own adapter and head block are untouched later
    ContinualRun perTask = runs.get(ContinualMethod.PER_TASK.ordinal());
    assertThat(perTask.backwardTransfer()).isCloseTo(0.0, org.assertj.core.api.Assertions.within(1e-9));
    // something was learned: the just-trained task beats chance (1/3) for the sequential methods
    assertThat(runs.get(0).accuracy()[0][0]).isGreaterThan(0.45);
    ContinualReport report = new ContinualReport(runs);
    assertThat(report.rows()).hasSize(5);
    List<Path> files = report.write(dir);
    assertThat(files).anyMatch(p -> p.getFileName().toString().equals("heatmap-o-lora-order0.png"));
    assertThat(Files.size(dir.resolve("heatmap-seq-lora-order0.png"))).isPositive();
    assertThat(Files.readString(dir.resolve("continual.md"))).contains("| o-lora |");
  }

  @Test
  void largeLambdaMakesTheNewAOrthogonalToTheEarlierOnes() {
    PeftModel model = new PeftModel(SEQ.newBaseModel(), AdapterRegistry.discover());
    Targets targets = Targets.allLinear().withModulesToSave("head");
    model.addAdapter("task0", new AdapterSpec(LoraConfig.of(2, 4), targets), 1);
    train(model, 0);
    model.merge("task0");
    double before = 0;
    double after = 0;
    model.addAdapter("task1", new AdapterSpec(new OrthogonalLora.Config(2, 4, 0, 100.0, 0,
        OrthogonalLora.Penalty.SQUARED, List.of("task0")), targets), 2);
    model.setActive("task1");
    for (String site : model.adapter("task1").sites().keySet()) {
      before += cosineOverlap(model, site);
    }
    train(model, 1);
    for (String site : model.adapter("task1").sites().keySet()) {
      after += cosineOverlap(model, site);
    }
    assertThat(before).isGreaterThan(0.01);
    assertThat(after).isLessThan(before / 20);
    assertThat(after).isLessThan(1e-3);
  }

  /** ||A_prev A_t^T||_F^2 / (||A_prev||_F^2 ||A_t||_F^2): 0 iff the row spaces are orthogonal. */
  private static double cosineOverlap(PeftModel model, String site) {
    OrthogonalLora.OrthogonalLoraAdapter ad = (OrthogonalLora.OrthogonalLoraAdapter) model.adapter("task1").sites().get(site);
    INDArray prev = ((LoraAdapter) model.adapter("task0").sites().get(site)).a();
    double num = OrthogonalLora.orthogonality(prev, ad.a(), OrthogonalLora.Penalty.SQUARED);
    double pn = prev.norm2Number().doubleValue();
    double an = ad.a().norm2Number().doubleValue();
    return num / (pn * pn * an * an);
  }

  private static void train(PeftModel model, int task) {
    new Trainer(TrainConfig.of(40, 1e-2, 3)).train(model, TaskSequence.objective(),
        (step, micro) -> SEQ.trainBatch(task, 11, step, 32));
  }
}
