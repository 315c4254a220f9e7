package dev.loraj.core.io;

import java.io.BufferedOutputStream;
import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Writes a file so that readers see either the old content or the complete new content: the
 * bytes go to a temporary file in the target's directory, are forced to disk, and the temporary
 * file is renamed over the target ({@code ATOMIC_MOVE}, {@code REPLACE_EXISTING}); the directory
 * is then forced too where the platform allows it. If anything fails, including the caller's
 * body, the old file is untouched and the temporary file is deleted.
 *
 * <p>The temporary file is created with default permissions (umask applies), not the 0600 of
 * {@code Files.createTempFile}, so the final file has the permissions a plain write would give.
 */
public final class AtomicFiles {
  private static final AtomicLong COUNTER = new AtomicLong();
  /** {@code .<target name>.<pid>.<counter>.tmp}, as {@link #createTemp} names them. */
  private static final Pattern TEMP_NAME = Pattern.compile("\\..+\\.(\\d+)\\.\\d+\\.tmp");

  private AtomicFiles() {}

  /**
   * Replaces {@code target} with what {@code body} writes. The stream is buffered; the body must
   * not keep it, and closing it is harmless (it only flushes).
   */
  public static void write(Path target, IOConsumer<OutputStream> body) throws IOException {
    Path absolute = target.toAbsolutePath();
    Path dir = absolute.getParent();
    Path temp = createTemp(dir, absolute.getFileName().toString());
    boolean moved = false;
    try {
      try (FileChannel channel = FileChannel.open(temp, StandardOpenOption.WRITE)) {
        BufferedOutputStream out =
            new BufferedOutputStream(Channels.newOutputStream(channel), 1 << 16);
        body.accept(new FlushOnClose(out));
        out.flush();
        channel.force(true);
      }
      Files.move(temp, absolute, StandardCopyOption.ATOMIC_MOVE,
          StandardCopyOption.REPLACE_EXISTING);
      moved = true;
    } finally {
      if (!moved) {
        deleteQuietly(temp);
      }
    }
    forceDirectory(dir);
  }

  /**
   * Creates the directory {@code target} with what {@code body} writes into the directory it is
   * given: a temporary sibling ({@code .<name>.<pid>.<counter>.tmp}, which {@link #removeLeftovers}
   * recognises), renamed to {@code target} when the body returns, so a reader never sees a
   * half-written directory. {@code target} must not exist, or be an empty directory (then it is
   * replaced). If the body fails, the temporary directory is deleted and {@code target} is left
   * as it was. The body writes plain files only (no subdirectories).
   */
  public static void writeNewDirectory(Path target, IOConsumer<Path> body) throws IOException {
    Path absolute = target.toAbsolutePath();
    if (Files.exists(absolute, LinkOption.NOFOLLOW_LINKS)) {
      boolean empty;
      if (!Files.isDirectory(absolute, LinkOption.NOFOLLOW_LINKS)) {
        throw new FileAlreadyExistsException(absolute.toString(), null, "exists and is not a directory");
      }
      try (Stream<Path> s = Files.list(absolute)) {
        empty = s.findAny().isEmpty();
      }
      if (!empty) {
        throw new FileAlreadyExistsException(absolute.toString(), null,
            "exists and is not empty; give a new directory");
      }
    }
    Path dir = absolute.getParent();
    Files.createDirectories(dir);
    long pid = ProcessHandle.current().pid();
    Path temp;
    while (true) {
      temp = dir.resolve("." + absolute.getFileName() + "." + pid + "." + COUNTER.incrementAndGet() + ".tmp");
      try {
        Files.createDirectory(temp);
        break;
      } catch (FileAlreadyExistsException e) {
        // a leftover from a crashed process with our pid: try the next counter value
      }
    }
    boolean moved = false;
    try {
      body.accept(temp);
      Files.deleteIfExists(absolute); // an empty directory (checked above)
      Files.move(temp, absolute, StandardCopyOption.ATOMIC_MOVE);
      moved = true;
    } finally {
      if (!moved) {
        try (Stream<Path> s = Files.list(temp)) {
          s.forEach(AtomicFiles::deleteQuietly);
        } catch (IOException | RuntimeException e) {
          // the body's exception is the one to report
        }
        deleteQuietly(temp);
      }
    }
    forceDirectory(dir);
  }

  /** Replaces {@code target} with {@code text} in UTF-8. */
  public static void writeString(Path target, String text) throws IOException {
    byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
    write(target, out -> out.write(bytes));
  }

  /**
   * Deletes the temporary files that writers killed before their rename left in {@code dir}
   * (not recursive): files, and directories of files, named like this class's temporaries whose
   * process is no longer running. Temporaries of live processes (another shard writing into the same directory, this
   * process's own writes) are left alone. A missing directory holds nothing.
   *
   * @return the paths deleted
   */
  public static List<Path> removeLeftovers(Path dir) throws IOException {
    if (!Files.isDirectory(dir)) {
      return List.of();
    }
    List<Path> removed = new ArrayList<>();
    long self = ProcessHandle.current().pid();
    try (Stream<Path> files = Files.list(dir)) {
      for (Path f : (Iterable<Path>) files::iterator) {
        Matcher m = TEMP_NAME.matcher(f.getFileName().toString());
        boolean file = Files.isRegularFile(f, LinkOption.NOFOLLOW_LINKS);
        if (!m.matches() || !(file || Files.isDirectory(f, LinkOption.NOFOLLOW_LINKS))) {
          continue;
        }
        long pid;
        try {
          pid = Long.parseLong(m.group(1));
        } catch (NumberFormatException e) {
          continue; // not a pid: not ours
        }
        // this process, or another one still running, may be writing it right now
        if (pid == self || ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false)) {
          continue;
        }
        if (!file) {
          // a directory written under a temporary name and renamed when complete (PEFT adapter
          // directories): its files, then itself
          try (Stream<Path> inner = Files.list(f)) {
            for (Path p : (Iterable<Path>) inner::iterator) {
              Files.deleteIfExists(p);
            }
          }
        }
        if (Files.deleteIfExists(f)) {
          removed.add(f);
        }
      }
    }
    return removed;
  }

  private static Path createTemp(Path dir, String name) throws IOException {
    long pid = ProcessHandle.current().pid();
    while (true) {
      Path temp = dir.resolve("." + name + "." + pid + "." + COUNTER.incrementAndGet() + ".tmp");
      try {
        return Files.createFile(temp);
      } catch (FileAlreadyExistsException e) {
        // a leftover from a crashed process with our pid: try the next counter value
      }
    }
  }

  private static void deleteQuietly(Path temp) {
    try {
      Files.deleteIfExists(temp);
    } catch (IOException | RuntimeException e) {
      // the body's exception is the one to report; a stray temp file is named like ".x.tmp"
    }
  }

  /** Makes the rename durable (POSIX); platforms that cannot open a directory skip it. */
  private static void forceDirectory(Path dir) {
    try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
      d.force(true);
    } catch (IOException | RuntimeException e) {
      // not supported here (Windows): the file itself was forced before the rename
    }
  }

  /** Lets the body close the stream without closing the channel before it is forced. */
  private static final class FlushOnClose extends FilterOutputStream {
    FlushOnClose(OutputStream out) {
      super(out);
    }

    @Override
    public void write(byte[] b, int off, int len) throws IOException {
      out.write(b, off, len);
    }

    @Override
    public void close() throws IOException {
      flush();
    }
  }
}
