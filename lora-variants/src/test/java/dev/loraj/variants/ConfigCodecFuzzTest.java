package dev.loraj.variants;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.loraj.core.adapter.AdapterConfig;
import dev.loraj.core.adapter.AdapterRegistry;
import dev.loraj.core.adapter.ConfigCodec;
import dev.loraj.core.config.ConfigException;
import dev.loraj.core.fuzz.FuzzInvariant;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * Fuzz target for adapter config decoding with every registered variant on the class path: any
 * text (byte 0 even: JSON, odd: YAML) either decodes to a config whose record validation
 * passed and which round-trips through JSON, or fails with a one-line {@link ConfigException}.
 */
class ConfigCodecFuzzTest {
  private static final ConfigCodec CODEC = new ConfigCodec(AdapterRegistry.discover());

  @FuzzTest
  void decode(byte[] data) {
    boolean json = data.length == 0 || (data[0] & 1) == 0;
    String text = new String(data.length == 0 ? data : Arrays.copyOfRange(data, 1, data.length), StandardCharsets.UTF_8);
    AdapterConfig c;
    try {
      c = json ? CODEC.fromJson(text) : CODEC.fromYaml(text);
    } catch (ConfigException e) {
      FuzzInvariant.requireOneLine(e);
      return;
    }
    AdapterConfig again = CODEC.fromJson(CODEC.toJson(c));
    if (!again.equals(c)) {
      throw new AssertionError("round trip changed " + c + " into " + again);
    }
  }
}
