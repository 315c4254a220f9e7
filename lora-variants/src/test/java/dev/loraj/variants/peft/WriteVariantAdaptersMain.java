package dev.loraj.variants.peft;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.loraj.core.adapter.AdapterRegistry;
import dev.loraj.core.checkpoint.PeftAdapters;
import dev.loraj.core.model.PeftModel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Writes, for {@code scripts/golden/check_java_adapter.py}, one adapter of every registered
 * variant on golden/peft_v1's tiny Llama (as {@link PeftRoundTripTest} builds them):
 * {@code OUT/<variant>/adapter/} in PEFT's format with the Java logits in
 * {@code OUT/<variant>/java_logits.json}, or, for a variant with no PEFT form, the reason in
 * {@code OUT/<variant>/no_peft_form.txt}. Prints the base model directory to pass as
 * {@code --model}.
 *
 * <p>Usage: {@code WriteVariantAdaptersMain OUT_DIR}.
 */
public final class WriteVariantAdaptersMain {
  public static void main(String[] args) throws Exception {
    Path out = Path.of(args[0]).toAbsolutePath();
    AdapterRegistry registry = AdapterRegistry.discover();
    Files.createDirectories(out);
    for (String variant : registry.names()) {
      PeftModel pm = VariantAdapters.adapted(registry, variant, false);
      Path dir = out.resolve(variant);
      Files.createDirectories(dir);
      Optional<String> no = PeftAdapters.noPeftForm(pm.adapter("default"));
      if (no.isPresent()) {
        Files.writeString(dir.resolve("no_peft_form.txt"), no.get() + "\n");
        System.out.println(variant + ": no PEFT form");
        continue;
      }
      PeftAdapters.save(pm, "default", dir.resolve("adapter"), VariantAdapters.modelDir().toString());
      INDArray logits = VariantAdapters.logits(pm);
      INDArray rows2d = logits.reshape(logits.length() / logits.size(-1), logits.size(-1));
      List<double[]> rows = new ArrayList<>();
      for (int i = 0; i < rows2d.rows(); i++) {
        rows.add(rows2d.getRow(i).castTo(DataType.DOUBLE).toDoubleVector());
      }
      Map<String, Object> json = new LinkedHashMap<>();
      json.put("tokens", VariantAdapters.TOKENS);
      json.put("logits", rows);
      new ObjectMapper().writeValue(dir.resolve("java_logits.json").toFile(), json);
      System.out.println(variant + ": wrote " + dir.resolve("adapter"));
    }
    System.out.println("model: " + VariantAdapters.modelDir());
  }
}
