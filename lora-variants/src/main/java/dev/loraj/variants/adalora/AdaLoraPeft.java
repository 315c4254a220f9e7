package dev.loraj.variants.adalora;

import com.fasterxml.jackson.databind.JsonNode;
import dev.loraj.core.adapter.Adapter;
import dev.loraj.core.checkpoint.PeftAdapterConfig;
import dev.loraj.core.checkpoint.PeftAdapters;
import dev.loraj.core.checkpoint.PeftCodec;
import dev.loraj.core.model.PeftModel;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * AdaLoRA in PEFT's {@code ADALORA} format (peft 0.21, {@code tuners/adalora}). Per module:
 * {@code lora_A} [r', in], {@code lora_B} [out, r'], {@code lora_E} [r', 1] (no {@code .weight};
 * {@code ranknum} is not saved, PEFT sets it to {@code init_r}). PEFT's update is
 * {@code lora_alpha / (ranknum + 1e-5) * B (A * E)}.
 *
 * <p>Pruned triplets: PEFT's {@code rank_pattern} maps {@code <module>.lora_E} to a mask of
 * {@code init_r} booleans and the saved tensors hold only the kept rows (columns of B); loading
 * puts them back at their mask positions. Written here whenever a site keeps fewer than
 * {@code init_r} triplets; read back into an adapter of rank {@code init_r} whose pruned entries
 * are zero and whose mask is PEFT's.
 *
 * <p>Sites of different rank or alpha (this framework's {@code rank_pattern}/{@code alpha_pattern},
 * which PEFT's AdaLoRA does not have): {@code init_r} is written as the largest site rank, a
 * smaller site's triplets fill the head of its mask, and E is rescaled by
 * {@code s_site / (lora_alpha / init_r)} so the product is unchanged.
 *
 * <p>Training state (importance averages, the budget schedule's position) is not part of PEFT's
 * adapter files and is not saved.
 */
final class AdaLoraPeft {
  private AdaLoraPeft() {}

  static final String TYPE = "ADALORA";

  static Map<String, Object> configFields(PeftModel.NamedAdapter adapter) {
    AdaLoraConfig cfg = (AdaLoraConfig) adapter.spec().config();
    int initR = initR(adapter);
    Map<String, Object> out = new TreeMap<>();
    // PEFT ignores r for AdaLoRA and warns at any value but its default 8
    out.put("r", 8);
    out.put("init_r", initR);
    out.put("target_r", cfg.targetR());
    out.put("lora_alpha", PeftAdapterConfig.plainNumber(cfg.alpha()));
    out.put("lora_dropout", cfg.dropout());
    out.put("tinit", cfg.tinit());
    out.put("tfinal", cfg.tfinal());
    out.put("deltaT", cfg.deltaT());
    out.put("beta1", cfg.beta1());
    out.put("beta2", cfg.beta2());
    out.put("orth_reg_weight", cfg.orthRegWeight());
    out.put("total_step", cfg.totalSteps());
    out.put("use_rslora", false);
    out.put("use_dora", false);
    out.put("init_lora_weights", true);
    out.put("exclude_modules", null);
    out.put("alpha_pattern", Map.of());
    out.put("lora_bias", false);
    Map<String, Object> masks = new TreeMap<>();
    for (Adapter a : adapter.sites().values()) {
      boolean[] mask = fileMask((AdaLoraAdapter) a, initR);
      if (count(mask) < initR) {
        List<Boolean> l = new ArrayList<>();
        for (boolean b : mask) {
          l.add(b);
        }
        masks.put(a.site().path() + "." + AdaLoraAdapter.E, l);
      }
    }
    out.put("rank_pattern", masks.isEmpty() ? null : masks);
    return out;
  }

  static Map<String, INDArray> tensors(PeftModel.NamedAdapter adapter) {
    AdaLoraConfig cfg = (AdaLoraConfig) adapter.spec().config();
    int initR = initR(adapter);
    double fileScaling = cfg.alpha() / initR;
    Map<String, INDArray> out = new TreeMap<>();
    for (Adapter site : adapter.sites().values()) {
      AdaLoraAdapter a = (AdaLoraAdapter) site;
      long[] rows = kept(a.mask());
      String prefix = PeftAdapters.KEY_PREFIX + a.site().path() + ".";
      if (rows.length == 0) {
        // every triplet pruned: PEFT saves the site at rank 0, tensors with an empty rank axis
        out.put(prefix + AdaLoraAdapter.A, Nd4j.create(DataType.FLOAT, 0, a.a().columns()));
        out.put(prefix + AdaLoraAdapter.B, Nd4j.create(DataType.FLOAT, a.b().rows(), 0));
        out.put(prefix + AdaLoraAdapter.E, Nd4j.create(DataType.FLOAT, 0, a.e().columns()));
        continue;
      }
      INDArray e = a.e().get(NDArrayIndex.indices(rows), NDArrayIndex.all()).dup('c');
      out.put(prefix + AdaLoraAdapter.A, a.a().get(NDArrayIndex.indices(rows), NDArrayIndex.all()).dup('c'));
      out.put(prefix + AdaLoraAdapter.B, a.b().get(NDArrayIndex.all(), NDArrayIndex.indices(rows)).dup('c'));
      out.put(prefix + AdaLoraAdapter.E, e.muli(a.scaling() / fileScaling));
    }
    return out;
  }

  static AdaLoraConfig config(JsonNode root, String source) {
    if (PeftAdapterConfig.bool(root, "use_dora", source) || PeftAdapterConfig.bool(root, "use_rslora", source)) {
      throw new IllegalArgumentException(
          source + ": an AdaLoRA config with use_dora or use_rslora; PEFT's AdaLoRA supports neither");
    }
    AdaLoraConfig d = AdaLoraConfig.defaults();
    long total = PeftAdapterConfig.nonNegativeLong(root, "total_step", 0, source);
    if (total == 0) {
      throw new IllegalArgumentException(source + ": total_step = " + root.get("total_step")
          + "; AdaLoRA needs the planned number of steps, an integer > 0");
    }
    return new AdaLoraConfig(
        PeftAdapterConfig.positiveInt(root, "init_r", 12, source),
        PeftAdapterConfig.positiveInt(root, "target_r", 8, source),
        PeftAdapterConfig.number(root, "lora_alpha", 8, source),
        PeftAdapterConfig.number(root, "lora_dropout", 0, source),
        total,
        PeftAdapterConfig.nonNegativeLong(root, "tinit", 0, source),
        PeftAdapterConfig.nonNegativeLong(root, "tfinal", 0, source),
        PeftAdapterConfig.positiveInt(root, "deltaT", 1, source),
        PeftAdapterConfig.number(root, "beta1", d.beta1(), source),
        PeftAdapterConfig.number(root, "beta2", d.beta2(), source),
        PeftAdapterConfig.number(root, "orth_reg_weight", 0.5, source),
        // PEFT's regularizer is the reference code's (mean of un-squared norms)
        AdaLoraConfig.OrthReg.REFERENCE);
  }

  static void read(Map<String, Adapter> sites, JsonNode root, PeftCodec.TensorReader file) {
    JsonNode patterns = root.path("rank_pattern");
    for (Adapter site : sites.values()) {
      AdaLoraAdapter a = (AdaLoraAdapter) site;
      int r = a.rank();
      String path = a.site().path();
      boolean[] mask = new boolean[r];
      JsonNode m = patterns.get(path + "." + AdaLoraAdapter.E);
      if (m == null || m.isNull()) {
        java.util.Arrays.fill(mask, true);
      } else {
        if (!m.isArray() || m.size() != r) {
          throw new IllegalArgumentException("rank_pattern[" + path + ".lora_E] = " + m
              + "; expected a list of init_r = " + r + " booleans");
        }
        for (int i = 0; i < r; i++) {
          if (!m.get(i).isBoolean()) {
            throw new IllegalArgumentException("rank_pattern[" + path + ".lora_E] = " + m
                + "; expected a list of init_r = " + r + " booleans");
          }
          mask[i] = m.get(i).booleanValue();
        }
      }
      long[] rows = kept(mask);
      int k = rows.length;
      String prefix = PeftAdapters.KEY_PREFIX + path + ".";
      INDArray fa = file.read(prefix + AdaLoraAdapter.A, k, a.site().in());
      INDArray fb = file.read(prefix + AdaLoraAdapter.B, a.site().out(), k);
      INDArray fe = file.read(prefix + AdaLoraAdapter.E, k, 1);
      a.a().assign(0);
      a.b().assign(0);
      a.e().assign(0);
      if (k > 0) {
        a.a().put(new org.nd4j.linalg.indexing.INDArrayIndex[] {NDArrayIndex.indices(rows), NDArrayIndex.all()},
            fa.reshape(k, a.site().in()));
        a.b().put(new org.nd4j.linalg.indexing.INDArrayIndex[] {NDArrayIndex.all(), NDArrayIndex.indices(rows)},
            fb.reshape(a.site().out(), k));
        a.e().put(new org.nd4j.linalg.indexing.INDArrayIndex[] {NDArrayIndex.indices(rows), NDArrayIndex.all()},
            fe.reshape(k, 1));
      }
      a.setMask(mask);
    }
  }

  /** The largest site rank: PEFT's single init_r. */
  private static int initR(PeftModel.NamedAdapter adapter) {
    return adapter.sites().values().stream().mapToInt(s -> ((AdaLoraAdapter) s).rank()).max().orElse(1);
  }

  /** The site's mask padded with false to {@code initR}. */
  private static boolean[] fileMask(AdaLoraAdapter a, int initR) {
    boolean[] mask = new boolean[initR];
    System.arraycopy(a.mask(), 0, mask, 0, a.rank());
    return mask;
  }

  private static long[] kept(boolean[] mask) {
    return java.util.stream.IntStream.range(0, mask.length).filter(i -> mask[i]).asLongStream().toArray();
  }

  private static int count(boolean[] mask) {
    return kept(mask).length;
  }
}
