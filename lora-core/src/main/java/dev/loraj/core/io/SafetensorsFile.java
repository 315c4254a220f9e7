package dev.loraj.core.io;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * A safetensors file opened for reading through a memory map.
 *
 * <p>Everything is validated when the file is opened (see {@link SafetensorsHeader}): a hostile
 * or truncated file fails with a {@link SafetensorsFormatException} naming the file and the
 * problem before any tensor is touched, and nothing larger than the header (at most 100 MB
 * and never more than the file's size) is allocated on the way.
 *
 * <p>Mapping: a buffer of up to 2 GiB is mapped once and the channel is closed right away, so
 * an open {@code SafetensorsFile} holds no file descriptor. A larger buffer is mapped per
 * tensor on request and the channel stays open until {@link #close()}; a tensor over 2 GiB is
 * read in pieces ({@link #bytes(String, long, int)}, which {@link #getFloat} and {@link #getRaw}
 * use). Java cannot unmap safely; mappings are released when their buffers become
 * unreachable. Modifying or truncating the file while it is open is undefined behaviour for
 * any mmap reader.
 */
public final class SafetensorsFile implements TensorSource {
  private final Path file;
  private final SafetensorsHeader header;
  private final long bufferStart;
  private final ByteBuffer whole; // null when tensors are mapped one by one
  private FileChannel channel; // open only in per-tensor mode
  private volatile boolean closed;

  private SafetensorsFile(
      Path file, SafetensorsHeader header, long bufferStart, ByteBuffer whole,
      FileChannel channel) {
    this.file = file;
    this.header = header;
    this.bufferStart = bufferStart;
    this.whole = whole;
    this.channel = channel;
  }

  /** Opens and validates {@code file}. */
  public static SafetensorsFile open(Path file) throws IOException {
    return open(file, Integer.MAX_VALUE);
  }

  /** As {@link #open(Path)}, mapping per tensor once the buffer exceeds {@code wholeMapLimit}. */
  static SafetensorsFile open(Path file, long wholeMapLimit) throws IOException {
    FileChannel channel = FileChannel.open(file, StandardOpenOption.READ);
    boolean keepOpen = false;
    try {
      long size = channel.size();
      if (size < 8) {
        throw new SafetensorsFormatException(
            file, "file has " + size + " bytes; a safetensors file starts with an 8-byte"
                + " little-endian header length");
      }
      ByteBuffer lengthBytes = readFully(file, channel, 0, 8).order(ByteOrder.LITTLE_ENDIAN);
      long n = lengthBytes.getLong(0); // u64: negative means >= 2^63
      if (n < 0 || n > SafetensorsHeader.MAX_HEADER_BYTES) {
        throw new SafetensorsFormatException(
            file, "header length " + Long.toUnsignedString(n) + " exceeds the limit of "
                + SafetensorsHeader.MAX_HEADER_BYTES + " bytes");
      }
      if (n > size - 8) {
        throw new SafetensorsFormatException(
            file, "header length " + n + " runs past the end of the file: the file has " + size
                + " bytes, so at most " + (size - 8) + " bytes of header are possible");
      }
      byte[] json = new byte[(int) n];
      readFully(file, channel, 8, (int) n).get(json);
      long bufferStart = 8 + n;
      long bufferLength = size - bufferStart;
      SafetensorsHeader header = SafetensorsHeader.parse(file, json, bufferLength);
      ByteBuffer whole = null;
      if (bufferLength == 0) {
        whole = ByteBuffer.allocate(0);
      } else if (bufferLength <= wholeMapLimit) {
        whole = channel.map(FileChannel.MapMode.READ_ONLY, bufferStart, bufferLength);
      }
      keepOpen = whole == null;
      return new SafetensorsFile(file, header, bufferStart, whole, keepOpen ? channel : null);
    } finally {
      if (!keepOpen) {
        channel.close();
      }
    }
  }

  private static ByteBuffer readFully(Path file, FileChannel channel, long position, int length)
      throws IOException {
    ByteBuffer buffer = ByteBuffer.allocate(length);
    while (buffer.hasRemaining()) {
      int read = channel.read(buffer, position + buffer.position());
      if (read < 0) {
        throw new SafetensorsFormatException(
            file, "file ended at byte " + (position + buffer.position()) + " while reading "
                + length + " bytes at offset " + position);
      }
    }
    return buffer.flip();
  }

  /** The file this was opened from. */
  public Path file() {
    return file;
  }

  @Override
  public Set<String> names() {
    return header.tensors.keySet();
  }

  @Override
  public boolean contains(String name) {
    return header.tensors.containsKey(name);
  }

  @Override
  public TensorInfo info(String name) {
    TensorInfo info = header.tensors.get(name);
    if (info == null) {
      throw new IllegalArgumentException(
          file + ": no tensor '" + name + "'; the file has " + header.tensors.size()
              + " tensors" + sample(names()));
    }
    return info;
  }

  static String sample(Set<String> names) {
    if (names.isEmpty()) {
      return "";
    }
    String listed = names.stream().limit(8).map(n -> "'" + n + "'").collect(
        Collectors.joining(", "));
    return ": " + listed + (names.size() > 8 ? ", ..." : "");
  }

  @Override
  public Map<String, String> metadata() {
    return header.metadata;
  }

  @Override
  public ByteBuffer bytes(String name) {
    TensorInfo info = info(name);
    if (closed) {
      throw new IllegalStateException(file + " is closed");
    }
    ByteBuffer region;
    if (whole != null) {
      region = whole.slice((int) info.begin(), (int) info.byteLength());
    } else {
      region = mapOne(info);
    }
    return region.asReadOnlyBuffer().order(ByteOrder.LITTLE_ENDIAN);
  }

  @Override
  public ByteBuffer bytes(String name, long offset, int length) {
    TensorInfo info = info(name);
    TensorSource.checkRange(info, offset, length);
    if (closed) {
      throw new IllegalStateException(file + " is closed");
    }
    ByteBuffer region;
    if (whole != null) {
      region = whole.slice((int) (info.begin() + offset), length);
    } else {
      region = mapRange(info, info.begin() + offset, length);
    }
    return region.asReadOnlyBuffer().order(ByteOrder.LITTLE_ENDIAN);
  }

  private synchronized ByteBuffer mapRange(TensorInfo info, long begin, int length) {
    if (length == 0) {
      return ByteBuffer.allocate(0);
    }
    try {
      return channel.map(FileChannel.MapMode.READ_ONLY, bufferStart + begin, length);
    } catch (IOException e) {
      throw new UncheckedIOException(file + ": mapping bytes of tensor '" + info.name() + "'", e);
    }
  }

  private synchronized ByteBuffer mapOne(TensorInfo info) {
    if (info.byteLength() > Integer.MAX_VALUE) {
      throw new UnsupportedOperationException(
          file + ": tensor '" + info.name() + "' has " + info.byteLength() + " bytes; a"
              + " single tensor over 2 GiB cannot be mapped into one ByteBuffer; read it in"
              + " pieces with bytes(name, offset, length) or getFloat");
    }
    if (info.byteLength() == 0) {
      return ByteBuffer.allocate(0);
    }
    try {
      return channel.map(
          FileChannel.MapMode.READ_ONLY, bufferStart + info.begin(), info.byteLength());
    } catch (IOException e) {
      throw new UncheckedIOException(file + ": mapping tensor '" + info.name() + "'", e);
    }
  }

  /** Whether tensors are mapped one by one (buffer over 2 GiB) rather than all at once. */
  boolean mapsPerTensor() {
    return whole == null;
  }

  /** Whether a file descriptor is held (only in per-tensor mode, until close). */
  boolean holdsChannel() {
    FileChannel c = channel;
    return c != null && c.isOpen();
  }

  @Override
  public synchronized void close() {
    closed = true;
    if (channel != null) {
      try {
        channel.close();
      } catch (IOException e) {
        throw new UncheckedIOException(file + ": closing", e);
      } finally {
        channel = null;
      }
    }
  }

  @Override
  public String toString() {
    return "SafetensorsFile[" + file + ", " + header.tensors.size() + " tensors]";
  }
}
