package dev.loraj.eval.reproduce;

import dev.loraj.core.lora.Fill;
import dev.loraj.core.quant.QuantFormat;
import dev.loraj.core.quant.QuantizedWeight;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * QLoRA (arXiv 2305.14314) section 3, Double Quantization: with block size 64 the fp32 absmax
 * costs 32/64 = 0.5 bits per parameter; quantizing the absmax to 8 bits in blocks of 256 costs
 * 8/64 + 32/(64*256) = 0.127 bits per parameter, a saving of 0.373.
 *
 * <p>Measured from {@link QuantizedWeight#bitsPerParameter()} on a 1024 x 1024 NF4 weight: the
 * scale overhead is {@code bitsPerParameter - 4}. The stored per-tensor fp32 offset adds
 * 32 / 2^20 = 0.00003 bits, below the tolerance of 0.0005.
 */
final class DoubleQuantSaving implements Reproduction {

  static final int SIZE = 1024;

  @Override
  public String id() {
    return "qlora-double-quant-bits";
  }

  @Override
  public String title() {
    return "QLoRA double quantization: scale overhead 0.5 -> 0.127 bits per parameter";
  }

  @Override
  public String source() {
    return "QLoRA, arXiv 2305.14314, section 3 (Double Quantization)";
  }

  @Override
  public String claim() {
    return "Block-64 fp32 scales cost 32/64 = 0.5 bits/parameter; double quantization (8-bit"
        + " scales, block 256) brings this to 8/64 + 32/(64*256) = 0.127, saving 0.373.";
  }

  @Override
  public Kind kind() {
    return Kind.EXACT;
  }

  @Override
  public ReproductionResult run(boolean quick) {
    INDArray w = Fill.normal(new long[] {SIZE, SIZE}, 0.02, new SplittableRandom(17)); // [out, in]
    double single = QuantizedWeight.quantize(w, QuantFormat.NF4, false).bitsPerParameter() - 4;
    double dbl = QuantizedWeight.quantize(w, QuantFormat.NF4, true).bitsPerParameter() - 4;
    return ReproductionResult.of(this, quick,
        "NF4, block 64, with and without double quantization, on a 1024 x 1024 N(0, 0.02) weight;"
            + " overhead = QuantizedWeight.bitsPerParameter() - 4.",
        List.of(
            Check.of("scale overhead, fp32 absmax", "0.5 bits/param",
                String.format(Locale.ROOT, "%.5f", single), "+-0.0005", Math.abs(single - 0.5) <= 5e-4,
                ""),
            Check.of("scale overhead, double quantized", "0.127 bits/param",
                String.format(Locale.ROOT, "%.5f", dbl), "+-0.0005", Math.abs(dbl - 0.127) <= 5e-4,
                "includes the fp32 offset per tensor"),
            Check.of("saving", "0.373 bits/param", String.format(Locale.ROOT, "%.5f", single - dbl),
                "+-0.0005", Math.abs(single - dbl - 0.373) <= 5e-4, "")));
  }
}
