package dev.loraj.core.engine;

import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.LockSupport;

/**
 * The threads that run the parts of a split kernel or product ({@link Threads#splitParts}): the
 * caller runs the first part, each of {@code size - 1} daemon workers one more, and the caller
 * waits for them by spinning.
 *
 * <p>Why not a {@link java.util.concurrent.ForkJoinPool}: a replayed training step hands out a
 * few hundred parts of 0.05-1 ms each, one right after another. A pool worker parks when its
 * queue is empty and takes tens of microseconds to wake, and the caller's {@code join} parks
 * too; on BERT's [1024, 384] x [384, 384] products that hand-over cost about a fifth of the
 * second core's gain. A worker here spins for {@link #SPIN_NANOS} after each part before it
 * parks, so within a step it is already running when the next part comes; between steps it parks.
 *
 * <p>One caller at a time: a split that finds the team busy (another thread's split, or a part
 * that splits again) runs all of its parts on its own thread. The parts' bounds never depend on
 * who runs them.
 */
final class KernelTeam {
  /** How long an idle worker spins before it parks (a step's ops follow each other faster). */
  static final long SPIN_NANOS = Long.getLong("loraj.kernelSpinMicros", 2000) * 1000;

  private final Worker[] workers;
  private final AtomicBoolean busy = new AtomicBoolean();
  private volatile boolean closed;

  KernelTeam(int size) {
    workers = new Worker[size - 1];
    for (int i = 0; i < workers.length; i++) {
      workers[i] = new Worker("loraj-kernel-" + (i + 1));
      workers[i].start();
    }
  }

  int size() {
    return workers.length + 1;
  }

  /**
   * Runs {@code body} on the parts {@code [k * size, min(count, (k + 1) * size))}: part 0 on the
   * caller, the others on workers (or all on the caller when the team is busy). Rethrows the
   * first failure of any part.
   */
  void run(int count, int partSize, Threads.Range body) {
    int parts = (count + partSize - 1) / partSize;
    if (parts - 1 > workers.length || !busy.compareAndSet(false, true)) {
      for (int from = 0; from < count; from += partSize) {
        body.run(from, Math.min(count, from + partSize));
      }
      return;
    }
    try {
      int used = 0;
      for (int from = partSize; from < count; from += partSize) {
        workers[used++].give(body, from, Math.min(count, from + partSize));
      }
      Throwable failure = null;
      try {
        body.run(0, Math.min(count, partSize));
      } catch (Throwable t) {
        failure = t;
      }
      for (int i = 0; i < used; i++) {
        Throwable t = workers[i].await();
        if (failure == null) {
          failure = t;
        }
      }
      if (failure instanceof RuntimeException r) {
        throw r;
      }
      if (failure instanceof Error e) {
        throw e;
      }
      if (failure != null) {
        throw new IllegalStateException(failure);
      }
    } finally {
      busy.set(false);
    }
  }

  /** Lets the workers end (they are daemons, so nothing waits for them). */
  void close() {
    closed = true;
    for (Worker w : workers) {
      LockSupport.unpark(w);
    }
  }

  private final class Worker extends Thread {
    private Threads.Range body;
    private int from;
    private int to;
    private Throwable failure;
    /** Parts given and parts done: a part is pending while {@code done < given}. */
    private volatile long given;
    private volatile long done;
    private volatile boolean parked;

    Worker(String name) {
      super(name);
      setDaemon(true);
    }

    void give(Threads.Range b, int f, int t) {
      body = b;
      from = f;
      to = t;
      failure = null;
      given = given + 1; // the volatile write publishes the fields above
      if (parked) {
        LockSupport.unpark(this);
      }
    }

    Throwable await() {
      while (done != given) {
        Thread.onSpinWait();
      }
      return failure;
    }

    @Override
    public void run() {
      long seen = 0;
      while (!closed) {
        long spinUntil = System.nanoTime() + SPIN_NANOS;
        while (given == seen && !closed) {
          if (System.nanoTime() < spinUntil) {
            Thread.onSpinWait();
          } else {
            parked = true;
            if (given == seen && !closed) {
              LockSupport.park(this);
            }
            parked = false;
          }
        }
        if (closed) {
          return;
        }
        seen = given;
        try {
          body.run(from, to);
        } catch (Throwable t) {
          failure = t;
        }
        done = seen; // publishes failure
      }
    }
  }
}
