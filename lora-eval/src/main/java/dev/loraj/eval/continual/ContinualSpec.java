package dev.loraj.eval.continual;

import com.fasterxml.jackson.databind.JsonNode;
import dev.loraj.core.model.Targets;
import dev.loraj.variants.continual.OrthogonalLora;
import java.util.ArrayList;
import java.util.List;

/**
 * A continual-learning comparison read from YAML/JSON (see {@code examples/continual.yaml}):
 * the sequence, the methods, seeds, task orders and the shared settings.
 */
public record ContinualSpec(TaskSequence sequence, ContinualSettings settings, List<ContinualMethod> methods,
    List<Long> seeds, List<List<Integer>> orders, String out) {

  public static ContinualSpec from(JsonNode root) {
    JsonNode s = root.path("sequence");
    String kind = s.path("kind").asText("");
    TaskSequence seq = switch (kind) {
      case "synthetic" -> new SyntheticTaskSequence(s.path("tasks").asInt(4), s.path("width").asInt(32),
          s.path("classes").asInt(3), s.path("shift_rank").asInt(4), s.path("test_examples").asInt(500),
          s.path("seed").asLong(0));
      case "text" -> {
        List<String> ds = new ArrayList<>();
        s.path("datasets").forEach(d -> ds.add(d.asText()));
        yield new TextTaskSequence(ds.isEmpty() ? List.of("spam", "sotu-party", "sotu-era", "source") : ds,
            s.path("max_length").asInt(64), s.path("train_examples").asInt(0), s.path("test_examples").asInt(0),
            s.path("seed").asLong(0));
      }
      default -> throw new IllegalArgumentException("sequence.kind = '" + kind + "': accepted synthetic, text");
    };
    JsonNode t = root.path("train");
    JsonNode a = root.path("adapter");
    JsonNode o = root.path("o_lora");
    JsonNode tm = a.path("target_modules");
    Targets targets;
    if (tm.isMissingNode() || tm.asText().equals(Targets.ALL_LINEAR)) {
      targets = Targets.allLinear();
    } else {
      List<String> names = new ArrayList<>();
      tm.forEach(n -> names.add(n.asText()));
      targets = Targets.of(names.toArray(String[]::new));
    }
    ContinualSettings settings = new ContinualSettings(t.path("steps").asInt(100), t.path("batch_size").asInt(32),
        t.path("learning_rate").asDouble(1e-2), a.path("rank").asInt(4), a.path("alpha").asDouble(8),
        targets, o.path("lambda1").asDouble(0.5), o.path("lambda2").asDouble(0.0),
        OrthogonalLora.Penalty.parse(o.path("penalty").asText("squared")),
        root.path("am_lora").path("l1").asDouble(0.01));
    List<ContinualMethod> methods = new ArrayList<>();
    root.path("methods").forEach(m -> methods.add(ContinualMethod.parse(m.asText())));
    if (methods.isEmpty()) {
      methods.addAll(List.of(ContinualMethod.values()));
    }
    List<Long> seeds = new ArrayList<>();
    root.path("seeds").forEach(x -> seeds.add(x.asLong()));
    if (seeds.isEmpty()) {
      seeds.addAll(List.of(1L, 2L, 3L));
    }
    List<List<Integer>> orders = new ArrayList<>();
    root.path("orders").forEach(ord -> {
      List<Integer> l = new ArrayList<>();
      ord.forEach(x -> l.add(x.asInt()));
      orders.add(l);
    });
    if (orders.isEmpty()) {
      List<Integer> natural = new ArrayList<>();
      for (int i = 0; i < seq.taskIds().size(); i++) {
        natural.add(i);
      }
      orders.add(natural);
    }
    return new ContinualSpec(seq, settings, methods, seeds, orders, root.path("out").asText("results/continual"));
  }

  /** Every method x order x seed, in that order, nothing kept on disk (tests, small runs). */
  public List<ContinualRun> runAll(java.util.function.Consumer<ContinualRun> onRun) {
    return runAll(null, (run, reused, seconds) -> onRun.accept(run));
  }

  /** Called after each run: {@code reused} when it was read from its run file instead of trained. */
  public interface RunListener {
    void onRun(ContinualRun run, boolean reused, double seconds);
  }

  /**
   * Every method x order x seed, in that order; with {@code files}, each finished run is written
   * at once and a run whose file exists is read instead of trained (resume after a kill).
   */
  public List<ContinualRun> runAll(ContinualRunFiles files, RunListener listener) {
    ContinualRunner runner = new ContinualRunner(sequence, settings);
    List<ContinualRun> runs = new ArrayList<>();
    for (ContinualMethod m : methods) {
      for (int k = 0; k < orders.size(); k++) {
        for (long seed : seeds) {
          java.util.Optional<ContinualRun> done = files == null ? java.util.Optional.empty() : files.read(m, orders.get(k), seed);
          if (done.isPresent()) {
            listener.onRun(done.get(), true, 0);
            runs.add(done.get());
            continue;
          }
          long t0 = System.nanoTime();
          ContinualRun r = runner.run(m, orders.get(k), seed);
          double seconds = (System.nanoTime() - t0) / 1e9;
          if (files != null) {
            files.write(r, orders.get(k), seconds);
          }
          listener.onRun(r, false, seconds);
          runs.add(r);
          System.gc(); // the run's model and SameDiff graphs hold native memory until collected
        }
      }
    }
    return runs;
  }
}
