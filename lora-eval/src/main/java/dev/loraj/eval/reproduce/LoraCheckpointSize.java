package dev.loraj.eval.reproduce;

import dev.loraj.core.model.ArchitectureCards;
import dev.loraj.core.model.LinearSite;
import java.util.List;
import java.util.Locale;

/**
 * LoRA (arXiv 2106.09685) section 4.2: "with r = 4 and only the query and value projection
 * matrices being adapted, the checkpoint size is reduced by roughly 10,000x (from 350GB to 35MB)".
 *
 * <p>Adapter: {@code 96 * 2 * r * (d + d)} parameters at r = 4, 2 bytes each (fp16). Full model:
 * every linear weight and bias of the gpt3-175b card plus token (50257 x d) and position
 * (2048 x d) embeddings, 2 bytes each; layer norms (4 d per layer, 4.7M in all) are left out, they
 * change the total by 0.003%. Tolerance 10% where the paper says "roughly"; the LoRA size is
 * reported in both MB (10^6) and MiB, since "35MB" sits between the two readings.
 */
final class LoraCheckpointSize implements Reproduction {

  static final int GPT3_CONTEXT = 2048;

  @Override
  public String id() {
    return "lora-checkpoint-size";
  }

  @Override
  public String title() {
    return "LoRA checkpoint of GPT-3 175B, r = 4 on W_q, W_v, fp16: 350GB -> 35MB";
  }

  @Override
  public String source() {
    return "LoRA, arXiv 2106.09685, section 4.2 (Practical benefits and limitations)";
  }

  @Override
  public String claim() {
    return "With r = 4 and only W_q, W_v adapted, the checkpoint shrinks roughly 10,000x,"
        + " from 350GB to 35MB.";
  }

  @Override
  public Kind kind() {
    return Kind.EXACT;
  }

  @Override
  public ReproductionResult run(boolean quick) {
    ArchitectureCards.Card card = ArchitectureCards.card("gpt3-175b");
    long adapter = Counts.lora("gpt3-175b", List.of("query", "value"), 4);
    long full = 0;
    for (LinearSite s : card.sites()) {
      full += (long) s.in() * s.out() + (s.hasBias() ? s.out() : 0);
    }
    full += (long) card.vocab() * card.hidden() + (long) GPT3_CONTEXT * card.hidden();
    double adapterBytes = 2.0 * adapter;
    double fullBytes = 2.0 * full;
    double ratio = fullBytes / adapterBytes;
    double mb = adapterBytes / 1e6;
    double mib = adapterBytes / (1024.0 * 1024.0);
    double gb = fullBytes / 1e9;
    return ReproductionResult.of(this, quick,
        "Parameter counts from the gpt3-175b architecture card, 2 bytes per parameter.",
        List.of(
            Check.of("full model, fp16", "350GB",
                String.format(Locale.ROOT, "%.1f GB (%,d parameters)", gb, full), "within 1%",
                Math.abs(gb / 350 - 1) <= 0.01, "layer norms not counted (0.003%)"),
            Check.of("LoRA checkpoint, W_q W_v r = 4, fp16", "35MB",
                String.format(Locale.ROOT, "%.1f MB = %.1f MiB (%,d parameters)", mb, mib, adapter),
                "within 10% (\"roughly\")", Math.abs(mb / 35 - 1) <= 0.10,
                String.format(Locale.ROOT, "%.1f%% above 35 in MB, %.1f%% in MiB",
                    100 * (mb / 35 - 1), 100 * (mib / 35 - 1))),
            Check.of("reduction factor", "roughly 10,000x",
                String.format(Locale.ROOT, "%,.0fx", ratio), "within 10% (\"roughly\")",
                Math.abs(ratio / 10_000 - 1) <= 0.10, "")));
  }
}
