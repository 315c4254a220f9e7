package dev.loraj.core.model.onnx;

import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.loraj.core.model.bert.TokenBatch;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A Hugging Face fast tokenizer ({@code tokenizer.json}, read from a file or a class path
 * resource, never from a hub) run by DJL's bundled Rust library, producing BERT inputs.
 *
 * <p>Truncation keeps special tokens ({@code [CLS] text[: maxLen-2] [SEP]}, HF's longest-first);
 * padding is to the longest row of the batch (not the file's fixed 128), with the file's pad id.
 * The {@code tokenizer.json} padding/truncation sections are overridden per call.
 *
 * <p>DJL sends usage telemetry from EC2 unless the system property {@code offline} is true; this
 * class sets it (when unset) before the first tokenizer is created, which also keeps DJL from
 * downloading anything. The native library comes from the DJL jar (linux-x86_64, linux-aarch64,
 * macOS arm64, Windows x86_64).
 */
public final class MiniLmTokenizer implements AutoCloseable {

  static {
    if (System.getProperty("offline") == null) {
      System.setProperty("offline", "true");
    }
  }

  private final String json;
  private final long padId;
  private final Map<Integer, HuggingFaceTokenizer> byMaxLen = new HashMap<>();
  private boolean closed;

  private MiniLmTokenizer(String json) throws IOException {
    this.json = json;
    JsonNode padding = new ObjectMapper().readTree(json).path("padding");
    this.padId = padding.path("pad_id").asLong(0);
  }

  public static MiniLmTokenizer fromFile(Path tokenizerJson) throws IOException {
    return new MiniLmTokenizer(Files.readString(tokenizerJson, StandardCharsets.UTF_8));
  }

  /** Loads a class path resource such as {@link MiniLm#TOKENIZER_RESOURCE}. */
  public static MiniLmTokenizer fromResource(String resource) throws IOException {
    try (InputStream in = MiniLm.open(resource)) {
      return new MiniLmTokenizer(new String(in.readAllBytes(), StandardCharsets.UTF_8));
    }
  }

  /**
   * Tokenizes single sentences with special tokens, truncated to {@code maxLen} tokens and padded
   * to the batch's longest row.
   *
   * @param maxLen the longest row allowed, counting [CLS] and [SEP]; at least 2
   */
  public synchronized TokenBatch encode(List<String> texts, int maxLen) {
    if (closed) {
      throw new IllegalStateException("MiniLmTokenizer is closed");
    }
    if (maxLen < 2) {
      throw new IllegalArgumentException("maxLen = " + maxLen
          + ", must be >= 2 (room for [CLS] and [SEP])");
    }
    if (texts.isEmpty()) {
      throw new IllegalArgumentException("texts is empty; pass at least one sentence");
    }
    Encoding[] encodings = tokenizer(maxLen).batchEncode(texts);
    int seq = 0;
    for (Encoding e : encodings) {
      seq = Math.max(seq, e.getIds().length);
    }
    long[][] ids = new long[encodings.length][seq];
    long[][] mask = new long[encodings.length][seq];
    long[][] types = new long[encodings.length][seq];
    for (int i = 0; i < encodings.length; i++) {
      long[] rowIds = encodings[i].getIds();
      int n = rowIds.length;
      Arrays.fill(ids[i], padId);
      System.arraycopy(rowIds, 0, ids[i], 0, n);
      System.arraycopy(encodings[i].getAttentionMask(), 0, mask[i], 0, n);
      System.arraycopy(encodings[i].getTypeIds(), 0, types[i], 0, n);
    }
    return new TokenBatch(ids, mask, types);
  }

  private HuggingFaceTokenizer tokenizer(int maxLen) {
    return byMaxLen.computeIfAbsent(maxLen, len -> {
      Map<String, String> options = new HashMap<>();
      options.put("addSpecialTokens", "true");
      options.put("truncation", "true");
      options.put("padding", "false");
      options.put("maxLength", Integer.toString(len));
      options.put("modelMaxLength", Integer.toString(len));
      try {
        return HuggingFaceTokenizer.newInstance(
            new ByteArrayInputStream(json.getBytes(StandardCharsets.UTF_8)), options);
      } catch (IOException e) {
        throw new IllegalStateException("cannot create tokenizer for maxLen " + len, e);
      }
    });
  }

  @Override
  public synchronized void close() {
    closed = true;
    byMaxLen.values().forEach(HuggingFaceTokenizer::close);
    byMaxLen.clear();
  }
}
