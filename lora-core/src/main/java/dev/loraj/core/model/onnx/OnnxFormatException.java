package dev.loraj.core.model.onnx;

/**
 * Bytes that are not a usable ONNX model: a malformed protobuf message (truncated, a length past
 * the end, an unsupported wire type) or a tensor whose shape, type and data disagree. The message
 * says where and what was expected. An {@link IllegalArgumentException}: the input is bad, not
 * the reader's state.
 */
public final class OnnxFormatException extends IllegalArgumentException {
  private static final long serialVersionUID = 1L;

  public OnnxFormatException(String message) {
    super(message);
  }
}
