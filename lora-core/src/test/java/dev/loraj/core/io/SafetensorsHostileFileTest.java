package dev.loraj.core.io;

import static dev.loraj.core.io.SafetensorsTestSupport.assemble;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Every malformed file fails at open with a message naming the file and the problem. */
class SafetensorsHostileFileTest {
  @TempDir Path dir;

  private static String t(String name, String dtype, String shape, String offsets) {
    return "\"" + name + "\":{\"dtype\":\"" + dtype + "\",\"shape\":" + shape
        + ",\"data_offsets\":" + offsets + "}";
  }

  static Stream<Arguments> hostile() {
    return Stream.of(
        Arguments.of("shorter than 8 bytes", new byte[] {1, 0, 0}, "file has 3 bytes"),
        Arguments.of("empty file", new byte[0], "file has 0 bytes"),
        Arguments.of("header length beyond the file",
            assemble(1000, "{}".getBytes(), 10), "header length 1000 runs past the end"),
        Arguments.of("header over 100 MB",
            assemble(200_000_000L, "{}".getBytes(), 0), "exceeds the limit of 100000000"),
        Arguments.of("header length beyond 2^63",
            assemble(-1L, "{}".getBytes(), 0), "18446744073709551615"),
        Arguments.of("invalid JSON", assemble("{\"a\": ", 0), "not valid JSON"),
        Arguments.of("not UTF-8", assemble(2, new byte[] {(byte) 0xff, (byte) 0xfe}, 0),
            "not valid UTF-8"),
        Arguments.of("JSON array", assemble("[1,2]   ", 0), "expected a JSON object"),
        Arguments.of("only spaces", assemble("        ", 0), "is empty"),
        Arguments.of("trailing tokens", assemble("{} {}    ", 0), "not valid JSON"),
        Arguments.of("duplicate tensor",
            assemble("{" + t("a", "U8", "[1]", "[0,1]") + "," + t("a", "U8", "[1]", "[1,2]")
                + "}", 2), "Duplicate field 'a'"),
        Arguments.of("unknown dtype",
            assemble("{" + t("a", "F128", "[1]", "[0,16]") + "}", 16),
            "unknown dtype \"F128\""),
        Arguments.of("dtype not a string",
            assemble("{\"a\":{\"dtype\":4,\"shape\":[1],\"data_offsets\":[0,4]}}", 4),
            "has dtype 4"),
        Arguments.of("negative shape",
            assemble("{" + t("a", "F32", "[-1]", "[0,4]") + "}", 4), "entry 0 = -1"),
        Arguments.of("non-integer shape",
            assemble("{" + t("a", "F32", "[1.5]", "[0,4]") + "}", 4), "entry 0 = 1.5"),
        Arguments.of("string shape",
            assemble("{" + t("a", "F32", "[\"2\"]", "[0,8]") + "}", 8), "entry 0 = \"2\""),
        Arguments.of("huge shape number",
            assemble("{" + t("a", "F32", "[123456789012345678901234567890]", "[0,4]") + "}",
                4), "non-negative integers"),
        Arguments.of("missing shape",
            assemble("{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4),
            "shape (missing)"),
        Arguments.of("three offsets",
            assemble("{" + t("a", "F32", "[1]", "[0,4,8]") + "}", 4),
            "with 3 entries; expected an array of 2"),
        Arguments.of("negative offset",
            assemble("{" + t("a", "F32", "[1]", "[-4,0]") + "}", 4), "entry 0 = -4"),
        Arguments.of("offsets out of range",
            assemble("{" + t("a", "F32", "[2]", "[0,8]") + "}", 4),
            "out of range: the buffer after the header has 4 bytes"),
        Arguments.of("begin > end",
            assemble("{" + t("a", "F32", "[1]", "[4,0]") + "}", 4), "begin > end"),
        Arguments.of("overlapping tensors",
            assemble("{" + t("a", "F32", "[2]", "[0,8]") + "," + t("b", "F32", "[2]", "[4,12]")
                + "}", 12), "tensor 'b' data_offsets [4, 12) overlap tensor 'a'"),
        Arguments.of("gap between tensors",
            assemble("{" + t("a", "F32", "[1]", "[0,4]") + "," + t("b", "F32", "[1]", "[8,12]")
                + "}", 12), "gap of 4 unused bytes at buffer offset 4 before tensor 'b'"),
        Arguments.of("gap at the start",
            assemble("{" + t("a", "F32", "[1]", "[4,8]") + "}", 8), "gap of 4 unused bytes"),
        Arguments.of("trailing bytes",
            assemble("{" + t("a", "F32", "[1]", "[0,4]") + "}", 9), "5 trailing bytes"),
        Arguments.of("shape disagrees with offsets",
            assemble("{" + t("a", "F32", "[3]", "[0,8]") + "}", 8),
            "shape [3] of F32 = 12 bytes but data_offsets [0, 8] span 8 bytes"),
        Arguments.of("shape bytes overflow",
            assemble("{" + t("a", "F32", "[4611686018427387904,4]", "[0,4]") + "}", 4),
            "overflows 64 bits"),
        Arguments.of("tensor entry not an object",
            assemble("{\"a\":[1,2]}", 0), "tensor 'a' is [1,2]"),
        Arguments.of("metadata value not a string",
            assemble("{\"__metadata__\":{\"format\":1}}", 0),
            "__metadata__ key 'format' has value 1; expected a string"),
        Arguments.of("metadata not an object",
            assemble("{\"__metadata__\":\"pt\"}", 0), "__metadata__ is a JSON STRING"));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("hostile")
  void refusedWithAClearMessage(String label, byte[] content, String fragment) throws Exception {
    Path file = dir.resolve(label.replace(' ', '_') + ".safetensors");
    Files.write(file, content);
    assertThatThrownBy(() -> SafetensorsFile.open(file).close())
        .isInstanceOf(SafetensorsFormatException.class)
        .hasMessageStartingWith(file.toString() + ": ")
        .hasMessageContaining(fragment)
        .satisfies(e -> assertThat(((SafetensorsFormatException) e).file()).isEqualTo(file));
  }
}
