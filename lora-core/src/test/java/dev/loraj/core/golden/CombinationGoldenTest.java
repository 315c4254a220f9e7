package dev.loraj.core.golden;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.loraj.core.adapter.AdapterRegistry;
import dev.loraj.core.checkpoint.PeftAdapters;
import dev.loraj.core.lora.Combination;
import dev.loraj.core.lora.LoraAdapter;
import dev.loraj.core.lora.TaskArithmetic;
import dev.loraj.core.model.HfModels;
import dev.loraj.core.model.PeftModel;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * {@link Combination} against PEFT 0.21's {@code add_weighted_adapter} on the tiny Llama
 * ({@code golden/combination_v1}, made by {@code scripts/golden/make_combination_golden.py}): two
 * LoRA adapters loaded from PEFT directories, combined here with each deterministic type, give
 * PEFT's A and B (the types applied to A and B separately), PEFT's B A (every type) and PEFT's
 * logits.
 */
class CombinationGoldenTest {

  static final String ROOT = "/golden/combination_v1";
  static Path dir;
  static JsonNode index;

  @BeforeAll
  static void load() throws Exception {
    dir = PeftGolden.directory(ROOT);
    index = PeftGolden.directoryIndex(dir);
  }

  @Test
  void everyDeterministicTypeMatchesPeft() throws Exception {
    PeftModel pm = new PeftModel(HfModels.load(PeftGolden.root().resolve("llama-tiny")), AdapterRegistry.discover());
    List<String> inputs = new ArrayList<>();
    index.path("combinations").get(0).path("adapters").forEach(a -> inputs.add(a.asText()));
    for (String a : inputs) {
      PeftAdapters.load(pm, dir.resolve("adapters").resolve(a), a);
    }
    INDArray ids = PeftGolden.input(index, "input_ids");
    List<String> report = new ArrayList<>();
    for (JsonNode c : index.path("combinations")) {
      String name = c.path("name").asText();
      Combination.Type type = Combination.Type.parse(c.path("combination_type").asText());
      List<Double> weights = new ArrayList<>();
      c.path("weights").forEach(w -> weights.add(w.asDouble()));
      Combination.Method method = new Combination.Method(type, c.path("svd_rank").asInt(0),
          c.path("density").asDouble(Double.NaN),
          TaskArithmetic.MajoritySign.parse(c.path("majority_sign_method").asText("total")), 0L);
      Combination.combine(pm, name, inputs, weights, method);
      double factors = 0;
      double deltas = 0;
      for (JsonNode m : c.path("modules")) {
        String module = m.asText();
        LoraAdapter got = (LoraAdapter) pm.adapter(name).sites().get(module);
        String key = "combination/" + name + "/" + module;
        deltas = Math.max(deltas, PeftGolden.maxAbsDiff(got.deltaWeight(), PeftGolden.expected(dir, key + ".delta")));
        if (type != Combination.Type.CAT && !type.svd()) {
          factors = Math.max(factors, PeftGolden.maxAbsDiff(got.a(), PeftGolden.expected(dir, key + ".lora_A")));
          factors = Math.max(factors, PeftGolden.maxAbsDiff(got.b(), PeftGolden.expected(dir, key + ".lora_B")));
        }
      }
      pm.setActive(name);
      double logits = PeftGolden.maxAbsDiff(pm.output(Map.of("input_ids", ids)),
          PeftGolden.expected(dir, c.path("logits_key").asText()));
      report.add(String.format("%-20s A,B %.2e  BA %.2e  logits %.2e", name, factors, deltas, logits));
      assertThat(factors).as("%s A and B", name).isLessThanOrEqualTo(1e-5);
      assertThat(deltas).as("%s B A", name).isLessThanOrEqualTo(1e-5);
      assertThat(logits).as("%s logits", name).isLessThanOrEqualTo(1e-5);
    }
    report.forEach(System.out::println);
  }
}
