package dev.loraj.core.io;

/**
 * Sequential float access to one F16/BF16/F32/F64 tensor of a {@link TensorSource}: elements are
 * read a window at a time into a small buffer, so a consumer that walks the tensor in order
 * (a quantizer reading block by block, a loader narrowing to 16 bits) never holds more than one
 * window of it, whatever the tensor's size. Not thread-safe.
 */
public final class TensorElements {
  /** Elements per window: 1 MiB of float32. */
  public static final int DEFAULT_WINDOW = 1 << 18;

  private final TensorSource source;
  private final TensorInfo info;
  private final float[] window;
  private long windowStart = -1;
  private int windowLength;

  /**
   * A reader of {@code name} with a window of {@code windowElements} elements.
   *
   * @throws IllegalArgumentException if the tensor is not floating-point or the window is below 1
   */
  public TensorElements(TensorSource source, String name, int windowElements) {
    this.source = source;
    this.info = source.info(name);
    if (!info.dtype().isFloatingPoint()) {
      throw new IllegalArgumentException("tensor '" + name + "' has dtype " + info.dtype()
          + "; expected F16, BF16, F32 or F64");
    }
    if (windowElements < 1) {
      throw new IllegalArgumentException("windowElements: " + windowElements + ", expected >= 1");
    }
    this.window = new float[(int) Math.min(windowElements, Math.max(1, info.numElements()))];
  }

  /** A reader with the {@link #DEFAULT_WINDOW}. */
  public TensorElements(TensorSource source, String name) {
    this(source, name, DEFAULT_WINDOW);
  }

  /** The tensor read. */
  public TensorInfo info() {
    return info;
  }

  /**
   * Elements {@code [start, start + len)} (row-major flat indices) as float into
   * {@code out[0, len)}: exact for F16/BF16/F32, rounded to nearest for F64.
   *
   * @throws IndexOutOfBoundsException if the range is outside the tensor
   */
  public void read(long start, int len, float[] out) {
    long n = info.numElements();
    if (start < 0 || len < 0 || start + len > n || len > out.length) {
      throw new IndexOutOfBoundsException("tensor '" + info.name() + "': elements [" + start
          + ", " + (start + len) + ") outside [0, " + n + ") or longer than out (" + out.length
          + ")");
    }
    int done = 0;
    while (done < len) {
      long e = start + done;
      if (e < windowStart || e >= windowStart + windowLength) {
        windowStart = e;
        windowLength = (int) Math.min(window.length, n - e);
        TensorCodec.readFloats(source, info, windowStart, windowLength, window);
      }
      int from = (int) (e - windowStart);
      int k = Math.min(len - done, windowLength - from);
      System.arraycopy(window, from, out, done, k);
      done += k;
    }
  }
}
