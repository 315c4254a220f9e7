package dev.loraj.core.quant;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

class DynamicMapTest {

  /**
   * Golden file: bitsandbytes' create_dynamic_map(signed=True) definition evaluated with torch
   * 2.13 float32 (regenerate with dynamic_map.py beside it). Same levels up to one ulp.
   */
  @Test
  void matchesTorchEvaluationWithinOneUlp() throws Exception {
    List<String> lines;
    try (var in = DynamicMapTest.class.getResourceAsStream("dynamic_map_torch2.13.txt");
        var reader = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
      lines = reader.lines().filter(l -> !l.startsWith("#")).toList();
    }
    assertThat(lines).hasSize(256);
    float[] map = DynamicMap.values();
    int differing = 0;
    for (int i = 0; i < 256; i++) {
      float golden = (float) Double.parseDouble(lines.get(i));
      assertThat(Math.abs(map[i] - golden)).as("level %d", i)
          .isLessThanOrEqualTo(Math.ulp(golden));
      differing += map[i] == golden ? 0 : 1;
    }
    assertThat(differing).isEqualTo(72); // as stated in DynamicMap's Javadoc
  }

  @Test
  void nearestLevelRoundTripsEveryLevel() {
    float[] map = DynamicMap.values();
    for (int c = 0; c < 256; c++) {
      assertThat(DynamicMap.CODEBOOK.nearest(map[c])).isEqualTo(c);
    }
    assertThat(DynamicMap.CODEBOOK.zeroCode()).isEqualTo(127); // 127 negative levels below 0
  }
}
