package dev.loraj.bench.cli;

import dev.loraj.core.engine.Threads;
import picocli.CommandLine.Option;

/**
 * {@code --threads N} of the commands that train: GEMMs and the Vector API kernels on N threads
 * ({@link Threads#configure}); without it the launcher's {@code LORA_THREADS} applies.
 */
final class ThreadsOption {

  @Option(names = "--threads", defaultValue = "0", paramLabel = "N",
      description = "CPU threads of the GEMMs and the Vector API kernels (libnd4j's element-wise"
          + " loops stay on OMP_NUM_THREADS); 0: the launcher's LORA_THREADS (default: ${DEFAULT-VALUE}).")
  int threads;

  /** Applies {@code --threads} when given; returns it (0 when not given). */
  int apply(picocli.CommandLine.Model.CommandSpec spec) {
    Usage.range(spec, "--threads", threads, 0, 4096);
    if (threads > 0) {
      Threads.configure(threads);
    }
    return threads;
  }
}
