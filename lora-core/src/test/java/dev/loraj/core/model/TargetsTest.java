package dev.loraj.core.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.loraj.core.adapter.ConfigCodec;
import java.util.List;
import org.junit.jupiter.api.Test;

class TargetsTest {

  static final List<LinearSite> SITES = List.of(
      new LinearSite("encoder.layer.0.attention.self.query", 8, 8, false, false, true),
      new LinearSite("encoder.layer.0.attention.self.value", 8, 8, false, false, true),
      new LinearSite("encoder.layer.0.output.dense", 16, 8, false, false, true),
      new LinearSite("encoder.layer.1.attention.self.query", 8, 8, false, false, true),
      new LinearSite("encoder.layer.1.attention.self.value", 8, 8, false, false, true),
      new LinearSite("classifier", 8, 3, false, true, true));

  static List<String> paths(List<LinearSite> s) {
    return s.stream().map(LinearSite::path).toList();
  }

  @Test
  void namesMatchExactlyOrAsDottedSuffix() {
    assertThat(paths(Targets.of("query").resolve(SITES)))
        .containsExactly("encoder.layer.0.attention.self.query", "encoder.layer.1.attention.self.query");
    assertThat(paths(Targets.of("self.value", "classifier").resolve(SITES))).hasSize(3);
    // "uery" is not a dotted suffix
    assertThatThrownBy(() -> Targets.of("uery").resolve(SITES)).hasMessageContaining("'uery' matches no");
  }

  @Test
  void aStringIsARegexMatchedAgainstTheWholePath() {
    assertThat(paths(Targets.regex(".*layer\\.1\\..*(query|value)").resolve(SITES))).hasSize(2);
    assertThatThrownBy(() -> Targets.regex("query").resolve(SITES)).hasMessageContaining("matches no");
  }

  @Test
  void allLinearExcludesTheOutputHead() {
    assertThat(paths(Targets.allLinear().resolve(SITES))).hasSize(5).doesNotContain("classifier");
  }

  @Test
  void excludeAndLayerFilter() {
    assertThat(paths(Targets.allLinear().withExclude("dense").resolve(SITES))).hasSize(4);
    assertThat(paths(Targets.of("query", "value").withLayers(1).resolve(SITES)))
        .containsExactly("encoder.layer.1.attention.self.query", "encoder.layer.1.attention.self.value");
    assertThatThrownBy(() -> Targets.of("query").withLayers(7).resolve(SITES))
        .hasMessageContaining("layers [7] have no targeted module");
    assertThatThrownBy(() -> Targets.allLinear().withExclude("nothing").resolve(SITES))
        .hasMessageContaining("exclude entry 'nothing' matches no");
  }

  @Test
  void patternKeysFollowPeftsRuleFirstMatchWins() {
    Targets t = Targets.allLinear().withRankPattern(new java.util.LinkedHashMap<>(java.util.Map.of("layer.0.attention.self.query", 2)));
    assertThat(t.rankFor(SITES.get(0), 8)).isEqualTo(2);
    assertThat(t.rankFor(SITES.get(3), 8)).isEqualTo(8);
    assertThat(Targets.patternMatches("query", "encoder.layer.0.attention.self.query")).isTrue();
    assertThat(Targets.patternMatches("query", "encoder.layer.0.attention.self.myquery")).isFalse();
  }

  @Test
  void jsonTakesAListOrAString() throws Exception {
    ObjectMapper m = ConfigCodec.configure(new ObjectMapper());
    Targets list = m.readValue("{\"target_modules\": [\"query\", \"value\"], \"rank_pattern\": {\"query\": 2}}", Targets.class);
    assertThat(list.targetModules().names()).containsExactly("query", "value");
    assertThat(list.rankPattern()).containsEntry("query", 2);
    Targets all = m.readValue("{\"target_modules\": \"all-linear\"}", Targets.class);
    assertThat(paths(all.resolve(SITES))).hasSize(5);
    assertThat(m.readValue(m.writeValueAsString(list), Targets.class)).isEqualTo(list);
  }
}
