package dev.loraj.core.golden;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.loraj.core.adapter.AdapterRegistry;
import dev.loraj.core.checkpoint.PeftAdapters;
import dev.loraj.core.model.HfModels;
import dev.loraj.core.model.PeftModel;
import dev.loraj.core.model.bert.BertModel;
import java.nio.file.Path;
import java.util.Map;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * The last hidden state of a golden BERT case (golden/peft_v1), base, unmerged and merged, against
 * transformers' {@code hidden} [batch, seq, hidden]: the Java graph with
 * {@link BertModel.Pooling#NONE} outputs [batch * seq, hidden]. BERT's logits see the adapters
 * only through the pooler's tanh and barely move (about 5e-4), so the hidden state is the check
 * that has teeth. Differences are measured over real tokens ({@code attention_mask} 1) and, for
 * the record, over every position (the padded one is computed too). Shared with lora-variants.
 */
public final class BertHiddenCheck {

  /** max |Java - PyTorch| of the hidden state: over real tokens, and over all positions. */
  public record Diffs(String name, double base, double unmerged, double merged, double allPositions) {
    @Override
    public String toString() {
      return String.format("%-18s hidden: base %.2e  unmerged %.2e  merged %.2e  (all positions"
          + " incl. padding %.2e)", name, base, unmerged, merged, allPositions);
    }
  }

  private BertHiddenCheck() {}

  /** Base hidden state of the model entry {@code models.bert}. */
  public static Diffs base(JsonNode model, AdapterRegistry registry) throws Exception {
    PeftModel pm = encoder(PeftGolden.root().resolve(model.path("dir").asText()), registry);
    Map<String, INDArray> in = PeftGolden.inputs(model);
    INDArray expected = PeftGolden.expected(model.path("base_hidden_key").asText());
    INDArray out = pm.output(in);
    double d = maskedMaxAbsDiff(out, expected, in.get(BertModel.ATTENTION_MASK));
    return new Diffs("bert", d, Double.NaN, Double.NaN, PeftGolden.maxAbsDiff(out, expected));
  }

  /** Base, unmerged and merged hidden states of case {@code c}. */
  public static Diffs run(JsonNode c, AdapterRegistry registry) throws Exception {
    Path root = PeftGolden.root();
    PeftModel pm = encoder(root.resolve(c.path("model_dir").asText()), registry);
    Map<String, INDArray> in = PeftGolden.inputs(c);
    INDArray mask = in.get(BertModel.ATTENTION_MASK);
    double base = maskedMaxAbsDiff(pm.output(in), PeftGolden.expected(c.path("base_hidden_key").asText()), mask);
    PeftAdapters.load(pm, root.resolve(c.path("adapter_dir").asText()), "default");
    pm.setActive("default");
    INDArray expectedAdapter = PeftGolden.expected(c.path("adapter_hidden_key").asText());
    INDArray out = pm.output(in);
    double unmerged = maskedMaxAbsDiff(out, expectedAdapter, mask);
    double all = PeftGolden.maxAbsDiff(out, expectedAdapter);
    pm.merge();
    double merged = maskedMaxAbsDiff(pm.output(in), PeftGolden.expected(c.path("merged_hidden_key").asText()), mask);
    return new Diffs(c.path("name").asText(), base, unmerged, merged, all);
  }

  /** Every difference at most {@code tolerance} (base NaN: not measured). */
  public static void assertWithin(Diffs d, double tolerance) {
    System.out.println("golden " + d);
    if (!Double.isNaN(d.unmerged())) {
      assertThat(d.unmerged()).as("%s unmerged hidden", d.name()).isLessThanOrEqualTo(tolerance);
      assertThat(d.merged()).as("%s merged hidden", d.name()).isLessThanOrEqualTo(tolerance);
    }
    assertThat(d.base()).as("%s base hidden", d.name()).isLessThanOrEqualTo(tolerance);
    assertThat(d.allPositions()).as("%s hidden incl. padding", d.name()).isLessThanOrEqualTo(tolerance);
  }

  /** The model in {@code dir} without pooler or head: its output is the last hidden state. */
  static PeftModel encoder(Path dir, AdapterRegistry registry) throws Exception {
    BertModel full = (BertModel) HfModels.load(dir);
    return new PeftModel(full.withPooling(BertModel.Pooling.NONE, 0), registry);
  }

  /**
   * max |a - b| over the rows whose mask is 1: {@code a} [B*S, d] (Java), {@code b} [B, S, d]
   * (torch), {@code mask} [B, S].
   */
  public static double maskedMaxAbsDiff(INDArray a, INDArray b, INDArray mask) {
    long rows = mask.length();
    INDArray x = a.castTo(DataType.DOUBLE).reshape(rows, -1);
    INDArray y = b.castTo(DataType.DOUBLE).reshape(rows, -1);
    if (x.size(1) != y.size(1)) {
      throw new IllegalArgumentException("widths differ: " + x.size(1) + " vs " + y.size(1));
    }
    INDArray m = mask.castTo(DataType.DOUBLE).reshape(rows, 1);
    return x.sub(y).muliColumnVector(m).amaxNumber().doubleValue();
  }
}
