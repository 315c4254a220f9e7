package dev.loraj.eval.reproduce;

import dev.loraj.core.lora.Fill;
import dev.loraj.core.quant.QuantFormat;
import dev.loraj.core.quant.QuantizationError;
import dev.loraj.core.quant.QuantizedWeight;
import java.util.EnumMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * QLoRA (arXiv 2305.14314) section 3: NF4 is built for normally distributed weights and beats
 * FP4 (and integer 4-bit) there; the paper shows it through accuracy and perplexity (Figure 3,
 * Table 2). Here the direct consequence is measured: the relative Frobenius quantization error
 * {@code ||W - deq(q(W))||_F / ||W||_F} on N(0, 0.02) weights, block 64, for NF4, FP4 and INT4.
 * Quick: 512 x 512; full: 4096 x 4096; seed 23.
 */
final class Nf4QuantizationError implements Reproduction {

  @Override
  public String id() {
    return "qlora-nf4-error";
  }

  @Override
  public String title() {
    return "QLoRA: NF4 quantizes normal weights with less error than FP4 and INT4";
  }

  @Override
  public String source() {
    return "QLoRA, arXiv 2305.14314, section 3 (4-bit NormalFloat), Figure 3";
  }

  @Override
  public String claim() {
    return "NF4 is information-theoretically optimal for normally distributed weights and yields"
        + " better results than FP4 and Int4.";
  }

  @Override
  public Kind kind() {
    return Kind.MEASURED;
  }

  @Override
  public ReproductionResult run(boolean quick) {
    int n = quick ? 512 : 4096;
    INDArray w = Fill.normal(new long[] {n, n}, 0.02, new SplittableRandom(23)); // [out, in]
    Map<QuantFormat, Double> err = new EnumMap<>(QuantFormat.class);
    for (QuantFormat f : List.of(QuantFormat.NF4, QuantFormat.FP4, QuantFormat.INT4)) {
      err.put(f, QuantizationError.relativeFrobenius(w, QuantizedWeight.quantize(w, f, false)));
    }
    double nf4 = err.get(QuantFormat.NF4);
    String ours = String.format(Locale.ROOT, "NF4 %.4f, FP4 %.4f, INT4 %.4f", nf4,
        err.get(QuantFormat.FP4), err.get(QuantFormat.INT4));
    return ReproductionResult.of(this, quick,
        "Relative Frobenius error of block-64 absmax quantization of a " + n + " x " + n
            + " N(0, 0.02) weight (QuantizedWeight, QuantizationError).",
        List.of(
            Check.of("NF4 error < FP4 error", "NF4 better than FP4", ours, "strictly lower",
                nf4 < err.get(QuantFormat.FP4), String.format(Locale.ROOT, "FP4/NF4 = %.2f",
                    err.get(QuantFormat.FP4) / nf4)),
            Check.of("NF4 error < INT4 error", "NF4 better than Int4", ours, "strictly lower",
                nf4 < err.get(QuantFormat.INT4), String.format(Locale.ROOT, "INT4/NF4 = %.2f",
                    err.get(QuantFormat.INT4) / nf4))));
  }
}
