package dev.loraj.core.model.onnx;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Minimal reader of the protocol buffers wire format (https://protobuf.dev/programming-guides/encoding/),
 * enough to walk ONNX's {@code ModelProto} without generated classes.
 *
 * <p>A message is a sequence of (tag, value) pairs; tag = (field number << 3) | wire type. Wire
 * types: 0 varint, 1 fixed 64-bit, 2 length-delimited (strings, bytes, sub-messages, packed
 * repeated scalars), 5 fixed 32-bit. Groups (3, 4) are obsolete and rejected.
 *
 * <p>Order of use: {@link #next()} until it returns false, then read the current field's value
 * with exactly one of the {@code read*} methods or {@link #skip()}.
 *
 * <p>Every malformed input (a value running past the end of its message, a wire type that is not
 * the field's, an unsupported one) fails with an {@link OnnxFormatException}; nothing is
 * allocated beyond the input's own size.
 */
final class ProtoReader {

  static final int VARINT = 0;
  static final int FIXED64 = 1;
  static final int LENGTH_DELIMITED = 2;
  static final int FIXED32 = 5;

  private final ByteBuffer buf;
  private int field;
  private int wireType;

  /** Reads {@code buf} from its position to its limit; the reader owns a little-endian duplicate. */
  ProtoReader(ByteBuffer buf) {
    this.buf = buf.duplicate().order(ByteOrder.LITTLE_ENDIAN);
  }

  /** Advances to the next field; false at the end of the message. */
  boolean next() {
    if (!buf.hasRemaining()) {
      return false;
    }
    long tag = readRawVarint();
    field = (int) (tag >>> 3);
    wireType = (int) (tag & 7);
    if (field <= 0) {
      throw new OnnxFormatException("protobuf: field number " + field + " at byte "
          + buf.position() + " is invalid (must be >= 1); the input is not a protobuf message");
    }
    return true;
  }

  int field() {
    return field;
  }

  int wireType() {
    return wireType;
  }

  long readVarint() {
    expect(VARINT);
    return readRawVarint();
  }

  float readFixed32Float() {
    expect(FIXED32);
    require(4);
    return buf.getFloat();
  }

  /** The bytes of a length-delimited field as a little-endian view (no copy). */
  ByteBuffer readBytes() {
    expect(LENGTH_DELIMITED);
    int length = checkedLength(readRawVarint());
    ByteBuffer slice = buf.slice();
    slice.limit(length);
    buf.position(buf.position() + length);
    return slice.order(ByteOrder.LITTLE_ENDIAN);
  }

  String readString() {
    ByteBuffer bytes = readBytes();
    byte[] out = new byte[bytes.remaining()];
    bytes.get(out);
    return new String(out, java.nio.charset.StandardCharsets.UTF_8);
  }

  ProtoReader readMessage() {
    return new ProtoReader(readBytes());
  }

  /**
   * A repeated int64 field, packed (one length-delimited run of varints) or not (one varint per
   * occurrence): appends to {@code out} and returns it.
   */
  LongList readInt64s(LongList out) {
    if (wireType == LENGTH_DELIMITED) {
      ProtoReader packed = new ProtoReader(readBytes());
      while (packed.buf.hasRemaining()) {
        out.add(packed.readRawVarint());
      }
    } else {
      out.add(readVarint());
    }
    return out;
  }

  void skip() {
    switch (wireType) {
      case VARINT -> readRawVarint();
      case FIXED64 -> buf.position(buf.position() + require(8));
      case LENGTH_DELIMITED -> readBytes();
      case FIXED32 -> buf.position(buf.position() + require(4));
      default -> throw new OnnxFormatException("protobuf: field " + field + " has wire type "
          + wireType + ", not supported (accepted: 0 varint, 1 fixed64, 2 length-delimited, 5 fixed32)");
    }
  }

  private void expect(int expected) {
    if (wireType != expected) {
      throw new OnnxFormatException("protobuf: field " + field + " has wire type " + wireType
          + ", expected " + expected);
    }
  }

  private int require(int bytes) {
    if (buf.remaining() < bytes) {
      throw new OnnxFormatException("protobuf: field " + field + " needs " + bytes + " bytes but only "
          + buf.remaining() + " remain; the file is truncated or corrupt");
    }
    return bytes;
  }

  private long readRawVarint() {
    long value = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (!buf.hasRemaining()) {
        throw new OnnxFormatException("protobuf: varint cut off by the end of its message at byte "
            + buf.position() + "; the file is truncated or corrupt");
      }
      byte b = buf.get();
      value |= (long) (b & 0x7F) << shift;
      if (b >= 0) {
        return value;
      }
    }
    throw new OnnxFormatException("protobuf: varint longer than 10 bytes at byte " + buf.position());
  }

  private int checkedLength(long length) {
    if (length < 0 || length > buf.remaining()) {
      throw new OnnxFormatException("protobuf: field " + field + " declares length " + length
          + " but only " + buf.remaining() + " bytes remain; the file is truncated or corrupt");
    }
    return (int) length;
  }

  /** A growable list of primitive longs (dims, int64 data). */
  static final class LongList {
    private long[] values = new long[4];
    private int size;

    void add(long v) {
      if (size == values.length) {
        values = java.util.Arrays.copyOf(values, size * 2);
      }
      values[size++] = v;
    }

    long[] toArray() {
      return java.util.Arrays.copyOf(values, size);
    }
  }
}
