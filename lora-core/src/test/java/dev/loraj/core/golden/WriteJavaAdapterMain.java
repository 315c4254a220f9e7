package dev.loraj.core.golden;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.loraj.core.adapter.Adapter;
import dev.loraj.core.adapter.AdapterRegistry;
import dev.loraj.core.adapter.AdapterSpec;
import dev.loraj.core.checkpoint.PeftAdapters;
import dev.loraj.core.lora.EmbeddingLoraAdapter;
import dev.loraj.core.lora.Fill;
import dev.loraj.core.lora.LoraAdapter;
import dev.loraj.core.lora.LoraConfig;
import dev.loraj.core.model.HfModels;
import dev.loraj.core.model.PeftModel;
import dev.loraj.core.model.Targets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Writes a Java-made adapter for {@code scripts/golden/check_java_adapter.py} (PEFT loading what
 * PeftAdapters.save wrote): LoRA r=4, alpha=8 with a rank pattern on the given model, B (and an
 * embedding table's A) drawn from N(0, 0.1^2) (seed 7) so the adapter changes the output, and the Java logits for tokens
 * 3,14,15,9,26,5,35 in {@code OUT/java_logits.json}.
 *
 * <p>Usage: {@code WriteJavaAdapterMain MODEL_DIR OUT_DIR [targets,comma,separated]}.
 */
public final class WriteJavaAdapterMain {
  public static void main(String[] args) throws Exception {
    Path model = Path.of(args[0]);
    Path out = Path.of(args[1]);
    String[] targets = (args.length > 2 ? args[2] : "q_proj,v_proj").split(",");
    PeftModel pm = new PeftModel(HfModels.load(model), AdapterRegistry.discover());
    Targets t = Targets.of(targets).withRankPattern(Map.of(pm.base().linearSites().get(0).leafName(), 2));
    pm.addAdapter("default", new AdapterSpec(LoraConfig.of(4, 8), t), 11);
    SplittableRandom rnd = new SplittableRandom(7);
    for (Adapter a : pm.adapter("default").sites().values()) {
      if (a instanceof EmbeddingLoraAdapter e) {
        Fill.normal(e.a(), 0, 0.1, rnd); // an embedding's A starts at 0 (its B is random)
      }
      Fill.normal(((LoraAdapter) a).b(), 0, 0.1, rnd);
    }
    long[] tokens = {3, 14, 15, 9, 26, 5, 35};
    INDArray ids = Nd4j.createFromArray(tokens).reshape(1, tokens.length).castTo(DataType.INT64);
    INDArray logits = pm.output(Map.of("input_ids", ids));
    Path adapter = out.resolve("adapter");
    Files.createDirectories(out);
    PeftAdapters.save(pm, "default", adapter, model.toAbsolutePath().toString());
    List<double[]> rows = new ArrayList<>();
    for (int i = 0; i < logits.rows(); i++) {
      rows.add(logits.getRow(i).castTo(DataType.DOUBLE).toDoubleVector());
    }
    new ObjectMapper().writeValue(out.resolve("java_logits.json").toFile(),
        Map.of("tokens", tokens, "logits", rows));
    System.out.println("wrote " + adapter + " (" + pm.adapter("default").sites().size()
        + " modules) and java_logits.json; first logits " + Arrays.toString(Arrays.copyOf(rows.get(0), 4)));
  }
}
