package dev.loraj.bench.report;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.loraj.bench.cli.LoraCli;
import dev.loraj.bench.sweep.TrialResult;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ReportTest {

  /** The synthetic sweep's report, generated once for the tests that only read it. */
  @TempDir static Path generated;
  private static Summary summary;

  @TempDir Path dir;

  @BeforeAll
  static void generateSynthetic() throws IOException {
    SyntheticTrials.write(generated, SyntheticTrials.trials());
    summary = Report.generate(generated);
  }

  @Test
  void meansAndSampleStdsOverOkSeedsBestFirst() throws IOException {
    Summary s = summary;

    assertThat(s.rows()).extracting(GroupSummary::group)
        .containsExactly("dora r=8 a=16", "lora r=4 a=8", "head_only");
    GroupSummary dora = s.rows().get(0);
    assertThat(dora.nOk()).isEqualTo(3);
    assertThat(dora.nFailed()).isEqualTo(1);
    assertThat(dora.seeds()).containsExactly(1L, 2L, 3L);
    assertThat(dora.metric("accuracy").mean()).isCloseTo(0.86, within(1e-12));
    assertThat(dora.metric("accuracy").std()).isCloseTo(0.01, within(1e-12));
    GroupSummary head = s.rows().get(2);
    assertThat(head.baseline()).isTrue();
    assertThat(head.rank()).isNull();
    assertThat(head.metric("accuracy").mean()).isCloseTo(0.72, within(1e-12));
    // sample std (n - 1): sqrt((0.02^2 + 0.01^2 + 0.03^2) / 2)
    assertThat(head.metric("accuracy").std()).isCloseTo(Math.sqrt(7e-4), within(1e-12));
    GroupSummary lora = s.rows().get(1);
    assertThat(lora.trainablePct()).isCloseTo(100.0 * 8_192 / 1_000_000, within(1e-12));
    // offheap = 300 MiB + seed MiB: mean over seeds 1..3 is 302 MiB
    assertThat(lora.peakOffheapBytes().mean()).isEqualTo(302.0 * (1 << 20));
    assertThat(lora.stepMsMedian()).isEqualTo(22.0);
    assertThat(s.metricNames()).containsExactly("accuracy", "eval_loss", "macro_f1");
    assertThat(s.failed()).singleElement()
        .satisfies(f -> assertThat(f.id()).isEqualTo("dora_r_8_a_16_s4"));
    // the failed seed-4 trial ends last: the period covers every trial
    assertThat(s.period()).containsExactly("2025-01-01T10:00:00Z", "2025-01-04T10:05:00Z");
  }

  @Test
  void markdownHasHeaderTableParagraphPlotsAndFailures() throws IOException {
    String md = Files.readString(generated.resolve(Report.REPORT_MD));

    assertThat(md).contains("# Sweep report: synthetic-sst2")
        .contains("**Dataset**: synthetic-sst2-v1 (sha256 ab12cd34)")
        .contains("**Base model**: tiny-bert-synthetic")
        .contains("**Git revision**: e1280f1")
        .contains("**Date**: 2025-01-01T10:00:00Z to 2025-01-04T10:05:00Z")
        .contains("| dora r=8 a=16 | dora | 8 | 3 (+1 failed) | 0.8600 ± 0.0100 |")
        .contains("| head\\_only | head\\_only (baseline) | – | 3 | 0.7200 ± 0.0265 |")
        .contains("| 8,192 | 0.819% | 306.9 | 280.0 | 900.0 | 400.0 | 22.0 | 4,980 | 14.5 |")
        .contains("## Memory")
        .contains("| lora r=4 a=8 | lora | 3.8 | 0.0 | 0.0 | 0.0 | 0.1 | 302.0 | 1.0 | 306.9 | 280.0 | 900.0 | 400.0 |")
        .contains("Best: dora r=8 a=16 (dora) with accuracy 0.8600 ± 0.0100 (n=3).")
        .contains("Against head-only training (0.7200 ± 0.0265): +0.1400 accuracy (higher)")
        .contains("(metric\\_vs\\_params.png)".replace("\\_", "_"))
        .contains("loss\\_curves.png".replace("\\_", "_"))
        .contains("| dora\\_r\\_8\\_a\\_16\\_s4 | dora r=8 a=16 | 4 | "
            + "java.lang.IllegalStateException: loss is NaN at step 17 |");
    // table rows appear best first
    assertThat(md.indexOf("| dora r=8 a=16 |")).isLessThan(md.indexOf("| lora r=4 a=8 |"));
    assertThat(md.indexOf("| lora r=4 a=8 |")).isLessThan(md.indexOf("| head\\_only |"));
  }

  @Test
  void paragraphComparesBestAdapterWithBothBaselines() throws IOException {
    SyntheticTrials.write(dir, SyntheticTrials.withFullFineTuning());
    Summary s = Report.generate(dir);

    assertThat(s.rows()).extracting(GroupSummary::group)
        .containsExactly("full_ft", "dora r=8 a=16", "lora r=4 a=8", "head_only");
    String text = String.join(" ", Narrative.sentences(s));
    assertThat(text)
        .contains("Best: full_ft with accuracy 0.8800 ± 0.0100 (n=3).")
        .contains("Best adapter: dora r=8 a=16 (dora) with 0.8600 ± 0.0100.")
        .contains("Against full fine-tuning (0.8800 ± 0.0100): -0.0200 accuracy (lower); "
            + "60x fewer trainable parameters, memory ledger 317.1 vs 918.3 MiB.")
        .contains("By memory ledger total (what each run holds after its last step, counted from its arrays),"
            + " smallest first: head_only 256.8, then lora r=4 a=8 306.9, then dora r=8 a=16 317.1, then full_ft"
            + " 918.3 MiB.")
        .contains("By peak resident set added during training (peak RSS Δ): head_only 350.0, then lora r=4 a=8"
            + " 400.0, then dora r=8 a=16 410.0, then full_ft 1000.0 MiB.")
        .contains("Against head-only training (0.7200 ± 0.0265): +0.1400 accuracy (higher)");
  }

  @Test
  void csvParsesAndCarriesFullPrecision() throws IOException {
    Summary s = summary;
    List<List<String>> csv = parseCsv(Files.readString(generated.resolve(Report.SUMMARY_CSV)));

    List<String> header = csv.get(0);
    assertThat(csv).hasSize(1 + s.rows().size());
    assertThat(csv).allSatisfy(r -> assertThat(r).hasSameSizeAs(header));
    int group = header.indexOf("group");
    int mean = header.indexOf("accuracy_mean");
    int std = header.indexOf("accuracy_std");
    int rank = header.indexOf("rank");
    assertThat(csv.get(1).get(group)).isEqualTo("dora r=8 a=16");
    assertThat(Double.parseDouble(csv.get(1).get(mean))).isEqualTo(s.rows().get(0).metric("accuracy").mean());
    assertThat(Double.parseDouble(csv.get(3).get(std))).isEqualTo(Math.sqrt(7e-4), within(1e-15));
    assertThat(csv.get(3).get(rank)).isEmpty();
    assertThat(header).contains("peak_offheap_bytes_mean", "trainable_params", "seeds", "n_failed");
  }

  @Test
  void summaryJsonParsesWithRowsAndFailures() throws IOException {
    JsonNode root = new ObjectMapper().readTree(generated.resolve(Report.SUMMARY_JSON).toFile());

    assertThat(root.get("primary_metric").asText()).isEqualTo("accuracy");
    assertThat(root.get("higher_is_better").asBoolean()).isTrue();
    assertThat(root.get("rows")).hasSize(3);
    JsonNode first = root.get("rows").get(0);
    assertThat(first.get("group").asText()).isEqualTo("dora r=8 a=16");
    assertThat(first.get("metrics").get("accuracy").get("mean").asDouble()).isCloseTo(0.86, within(1e-12));
    assertThat(first.get("metrics").get("accuracy").get("n").asInt()).isEqualTo(3);
    assertThat(root.get("rows").get(2).get("rank").isNull()).isTrue();
    assertThat(root.get("failed").get(0).get("error").asText()).contains("loss is NaN");
    assertThat(root.get("provenance").get("git_revision").get(0).asText()).isEqualTo("e1280f1");
  }

  @Test
  void plotsAreValidPngImages() throws IOException {
    for (String f : List.of(Plots.METRIC_VS_PARAMS, Plots.METRIC_VS_MEMORY, Plots.LOSS_CURVES,
        Plots.MEMORY_BY_CATEGORY)) {
      Path p = generated.resolve(f);
      assertThat(p).exists();
      BufferedImage img = ImageIO.read(p.toFile());
      assertThat(img).as(f).isNotNull();
      assertThat(img.getWidth()).isEqualTo(1000);
      assertThat(img.getHeight()).isEqualTo(620);
      assertThat(distinctColours(img)).as("colours in " + f).isGreaterThan(10);
    }
  }

  @Test
  void htmlIsSelfContainedWithTableAndEmbeddedImages() throws IOException {
    String html = Files.readString(generated.resolve(Report.REPORT_HTML));

    assertThat(html).startsWith("<!DOCTYPE html>").contains("<table class=\"results\">")
        .contains("<td>dora r=8 a=16</td>").contains("0.8600 ± 0.0100")
        .contains("<tr class=\"baseline\"><td>head_only</td>")
        .contains("tiny-bert-synthetic").contains("loss is NaN at step 17");
    assertThat(html).doesNotContainIgnoringCase("<script").doesNotContain("http://")
        .doesNotContain("https://").doesNotContain("<link");
    Matcher m = Pattern.compile("src=\"data:image/png;base64,([A-Za-z0-9+/=]+)\"").matcher(html);
    int images = 0;
    while (m.find()) {
      byte[] png = java.util.Base64.getDecoder().decode(m.group(1));
      assertThat(ImageIO.read(new java.io.ByteArrayInputStream(png))).isNotNull();
      images++;
    }
    assertThat(images).isEqualTo(4);
    assertThat(Pattern.compile("src=\"(?!data:)").matcher(html).find()).isFalse();
  }

  @Test
  void textOutputsAreByteIdenticalAcrossRunsAndFileOrder() throws IOException {
    List<String> files = List.of(Report.REPORT_MD, Report.SUMMARY_CSV, Report.SUMMARY_JSON);
    java.util.Map<String, byte[]> first = new java.util.HashMap<>();
    for (String f : files) {
      first.put(f, Files.readAllBytes(generated.resolve(f)));
    }
    // the same trials written in reverse order into another directory, then reported again
    List<TrialResult> shuffled = new ArrayList<>(SyntheticTrials.trials());
    Collections.reverse(shuffled);
    SyntheticTrials.write(dir, shuffled);
    Report.generate(dir);
    for (String f : files) {
      assertThat(Files.readAllBytes(dir.resolve(f))).as(f + " second run").isEqualTo(first.get(f));
    }
  }

  @Test
  void trialResultRoundTripsWithSnakeCaseNames() throws IOException {
    TrialResult t = SyntheticTrials.trials().get(0);
    Path f = dir.resolve("t.json");
    t.write(f);
    JsonNode tree = new ObjectMapper().readTree(f.toFile());

    assertThat(json(TrialResult.read(f))).isEqualTo(json(t));
    assertThat(tree.get("status").asText()).isEqualTo("ok");
    assertThat(tree.has("dataset_sha256")).isTrue();
    assertThat(tree.has("peak_offheap_bytes")).isTrue();
    assertThat(tree.has("tokens_per_s")).isTrue();
    assertThat(tree.has("step_ms_median")).isTrue();
    assertThat(tree.has("primary_metric")).isTrue();
    assertThat(tree.has("higher_is_better")).isTrue();
    assertThat(tree.get("loss_curve")).hasSize(50);
    assertThat(tree.get("config").get("type").asText()).isEqualTo("lora");
    // a plain mapper reads it too (the record carries its naming)
    assertThat(json(new ObjectMapper().readValue(f.toFile(), TrialResult.class))).isEqualTo(json(t));
  }

  @Test
  void failedTrialWithNullsRoundTrips() throws IOException {
    TrialResult t = SyntheticTrials.failed("g", "lora", 8, 9, "boom");
    Path f = dir.resolve("f.json");
    t.write(f);
    TrialResult back = TrialResult.read(f);
    assertThat(json(back)).isEqualTo(json(t));
    assertThat(back.config()).isNull();
    assertThat(back.ok()).isFalse();
  }

  @Test
  void errorsNameTheProblem() throws IOException {
    assertThatThrownBy(() -> Report.generate(dir))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("no trials directory");
    Files.createDirectories(dir.resolve("trials"));
    assertThatThrownBy(() -> Report.generate(dir))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("no readable trial files");
    // a record that cannot be parsed is left out (the next sweep run runs its trial again)
    Files.writeString(dir.resolve("trials/bad.json"), "{\"id\": \"x\", \"colour\": 1}");
    assertThatThrownBy(() -> Report.generate(dir))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("no readable trial files");
    Files.delete(dir.resolve("trials/bad.json"));
    List<TrialResult> trials = new ArrayList<>(SyntheticTrials.trials());
    TrialResult t = trials.get(0);
    trials.add(new TrialResult("other", t.sweep(), "x", "lora", false, 4, null, null, t.task(),
        t.dataset(), t.datasetSha256(), 1, null, t.metrics(), "macro_f1", true, null, null, 1, 2, 0, 0,
        0, 0, 0, 0, null, null, 0, 0, null, 0, 0, 0, TrialResult.Status.OK, null, null));
    SyntheticTrials.write(dir, trials);
    assertThatThrownBy(() -> Report.generate(dir))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("primary_metric");
  }

  @Test
  void reportSubcommandWritesTheFiles() throws IOException {
    SyntheticTrials.write(dir, SyntheticTrials.trials());
    int code = LoraCli.commandLine().execute("report", dir.toString());
    assertThat(code).isZero();
    assertThat(dir.resolve(Report.REPORT_HTML)).exists();
    assertThat(LoraCli.commandLine().execute("report", dir.resolve("missing").toString())).isEqualTo(2);
  }

  /** JSON text (JsonNode equality tells an int node from a long node; the text does not). */
  private static String json(TrialResult t) throws IOException {
    return TrialResult.mapper().writeValueAsString(t);
  }

  private static int distinctColours(BufferedImage img) {
    java.util.Set<Integer> c = new java.util.HashSet<>();
    for (int y = 0; y < img.getHeight(); y += 3) {
      for (int x = 0; x < img.getWidth(); x += 3) {
        c.add(img.getRGB(x, y));
      }
    }
    return c.size();
  }

  /** A small RFC 4180 reader: quoted fields, doubled quotes, LF or CRLF line ends. */
  static List<List<String>> parseCsv(String text) {
    List<List<String>> rows = new ArrayList<>();
    List<String> row = new ArrayList<>();
    StringBuilder cell = new StringBuilder();
    boolean quoted = false;
    for (int i = 0; i < text.length(); i++) {
      char ch = text.charAt(i);
      if (quoted) {
        if (ch == '"' && i + 1 < text.length() && text.charAt(i + 1) == '"') {
          cell.append('"');
          i++;
        } else if (ch == '"') {
          quoted = false;
        } else {
          cell.append(ch);
        }
      } else if (ch == '"') {
        quoted = true;
      } else if (ch == ',') {
        row.add(cell.toString());
        cell.setLength(0);
      } else if (ch == '\n') {
        row.add(cell.toString());
        cell.setLength(0);
        rows.add(row);
        row = new ArrayList<>();
      } else if (ch != '\r') {
        cell.append(ch);
      }
    }
    if (quoted) {
      throw new IllegalArgumentException("unterminated quote in CSV");
    }
    if (cell.length() > 0 || !row.isEmpty()) {
      row.add(cell.toString());
      rows.add(row);
    }
    return rows;
  }
}
