package dev.loraj.variants.vera;

import com.fasterxml.jackson.databind.JsonNode;
import dev.loraj.core.adapter.Adapter;
import dev.loraj.core.adapter.BiasMode;
import dev.loraj.core.checkpoint.PeftAdapterConfig;
import dev.loraj.core.checkpoint.PeftAdapters;
import dev.loraj.core.checkpoint.PeftCodec;
import dev.loraj.core.model.PeftModel;
import java.util.Comparator;
import java.util.Map;
import java.util.TreeMap;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * VeRA in PEFT's {@code VERA} format (peft 0.21, {@code tuners/vera}): per module
 * {@code vera_lambda_b} [out] and {@code vera_lambda_d} [r]; one shared {@code base_model.vera_A}
 * [r, max in] and {@code base_model.vera_B} [max out, r] (with {@code save_projection}, PEFT's
 * default), of which a module uses {@code vera_A[:, :in]} and {@code vera_B[:out, :]}.
 *
 * <p>Writing: the widest site's projections become the shared ones. Every other site's A must
 * be a multiple {@code f} of the slice (as {@link Vera} draws them: one stream per matrix, scaled
 * by {@code 1/sqrt(in)}), and {@code f} is folded into its {@code lambda_d} (B likewise into
 * {@code lambda_b}), so every module computes the same product; projections that are not
 * (changed by hand) are refused with the site named. {@code save_projection} is always true: PEFT
 * regenerates projections from {@code projection_prng_key} with torch's generator, which is not
 * reproduced here, so the key is written for the record and a directory saved without
 * projections is refused on load.
 */
final class VeraPeft {
  private VeraPeft() {}

  static final String TYPE = "VERA";
  static final String SHARED_A = "base_model.vera_A";
  static final String SHARED_B = "base_model.vera_B";
  /** Relative tolerance of the scaled-slice check (float rounding of the scale). */
  private static final double SLICE_TOLERANCE = 1e-5;

  static Map<String, Object> configFields(PeftModel.NamedAdapter adapter) {
    Vera.Config cfg = (Vera.Config) adapter.spec().config();
    Map<String, Object> out = new TreeMap<>();
    out.put("r", rank(adapter));
    out.put("projection_prng_key", cfg.projectionPrngKey());
    out.put("save_projection", true);
    out.put("vera_dropout", cfg.dropout());
    out.put("d_initial", cfg.dInitial());
    out.put("init_weights", true);
    out.put("bias", cfg.bias() == BiasMode.LORA_ONLY ? "vera_only" : cfg.bias().json());
    return out;
  }

  static Map<String, INDArray> tensors(PeftModel.NamedAdapter adapter) {
    rank(adapter);
    Vera.VeraAdapter widestIn = widest(adapter, true);
    Vera.VeraAdapter widestOut = widest(adapter, false);
    INDArray sharedA = widestIn.a(); // [r, max in]
    INDArray sharedB = widestOut.b(); // [max out, r]
    Map<String, INDArray> out = new TreeMap<>();
    out.put(SHARED_A, sharedA.dup('c'));
    out.put(SHARED_B, sharedB.dup('c'));
    for (Adapter site : adapter.sites().values()) {
      Vera.VeraAdapter v = (Vera.VeraAdapter) site;
      int in = v.site().in();
      int outW = v.site().out();
      double f = factor(v.a(), sharedA.get(NDArrayIndex.all(), NDArrayIndex.interval(0, in)), v, "vera_A");
      double g = factor(v.b(), sharedB.get(NDArrayIndex.interval(0, outW), NDArrayIndex.all()), v, "vera_B");
      String prefix = PeftAdapters.KEY_PREFIX + v.site().path() + ".";
      out.put(prefix + Vera.LAMBDA_D, v.lambdaD().mul(f));
      out.put(prefix + Vera.LAMBDA_B, v.lambdaB().mul(g));
    }
    return out;
  }

  static Vera.Config config(JsonNode root, String source) {
    Vera.Config d = Vera.Config.defaults();
    String bias = root.path("bias").asText("none");
    BiasMode mode = bias.equals("vera_only") ? BiasMode.LORA_ONLY : BiasMode.parse(bias);
    return new Vera.Config(
        PeftAdapterConfig.positiveInt(root, "r", 256, source), d.alpha(),
        PeftAdapterConfig.number(root, "vera_dropout", 0, source),
        PeftAdapterConfig.nonNegativeLong(root, "projection_prng_key", 0, source),
        PeftAdapterConfig.number(root, "d_initial", d.dInitial(), source), mode);
  }

  static void read(Map<String, Adapter> sites, JsonNode root, PeftCodec.TensorReader file) {
    if (root.has("save_projection") && !PeftAdapterConfig.bool(root, "save_projection", "adapter_config.json")) {
      throw new IllegalArgumentException(
          "adapter_config.json: save_projection = false, so vera_A and vera_B are not in the file;"
              + " PEFT regenerates them from projection_prng_key with torch's generator, which is"
              + " not reproduced here. Save the adapter with save_projection=True");
    }
    int r = sites.values().stream().mapToInt(a -> (int) ((Vera.VeraAdapter) a).lambdaD().length())
        .findFirst().orElse(0);
    int maxIn = sites.values().stream().mapToInt(a -> a.site().in()).max().orElse(0);
    int maxOut = sites.values().stream().mapToInt(a -> a.site().out()).max().orElse(0);
    INDArray sharedA = file.read(SHARED_A, r, maxIn).reshape(r, maxIn);
    INDArray sharedB = file.read(SHARED_B, maxOut, r).reshape(maxOut, r);
    for (Adapter site : sites.values()) {
      Vera.VeraAdapter v = (Vera.VeraAdapter) site;
      int in = v.site().in();
      int out = v.site().out();
      String prefix = PeftAdapters.KEY_PREFIX + v.site().path() + ".";
      v.a().assign(sharedA.get(NDArrayIndex.all(), NDArrayIndex.interval(0, in)));
      v.b().assign(sharedB.get(NDArrayIndex.interval(0, out), NDArrayIndex.all()));
      v.lambdaD().assign(file.read(prefix + Vera.LAMBDA_D, r).reshape(v.lambdaD().shape()));
      v.lambdaB().assign(file.read(prefix + Vera.LAMBDA_B, out).reshape(v.lambdaB().shape()));
    }
  }

  /** The one r of every site (PEFT's VeRA has no per-module rank). */
  private static int rank(PeftModel.NamedAdapter adapter) {
    int[] ranks = adapter.sites().values().stream()
        .mapToInt(a -> (int) ((Vera.VeraAdapter) a).lambdaD().length()).distinct().toArray();
    if (ranks.length > 1) {
      throw new IllegalArgumentException("variant 'vera': sites of ranks " + java.util.Arrays.toString(ranks)
          + "; PEFT's VeRA shares one r across modules (no rank_pattern)");
    }
    return ranks.length == 0 ? 0 : ranks[0];
  }

  private static Vera.VeraAdapter widest(PeftModel.NamedAdapter adapter, boolean byIn) {
    return adapter.sites().values().stream().map(a -> (Vera.VeraAdapter) a)
        .max(Comparator.comparingInt(a -> byIn ? a.site().in() : a.site().out())).orElseThrow();
  }

  /** f with {@code m = f * slice}, checked to float rounding. */
  private static double factor(INDArray m, INDArray slice, Vera.VeraAdapter site, String name) {
    double ss = slice.mul(slice).sumNumber().doubleValue();
    double f = ss == 0 ? 1 : m.mul(slice).sumNumber().doubleValue() / ss;
    double err = m.sub(slice.mul(f)).amaxNumber().doubleValue();
    double scale = Math.max(m.amaxNumber().doubleValue(), Float.MIN_NORMAL);
    if (err > SLICE_TOLERANCE * scale) {
      throw new IllegalArgumentException(
          "variant 'vera': the " + name + " projection at " + site.site().path() + " is not a"
              + " multiple of the shared one's slice (max deviation " + err + "); PEFT's VeRA"
              + " uses one " + name + " for all modules, sliced per module");
    }
    return f;
  }
}
