package dev.loraj.core.engine;

import java.util.Locale;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Which engine builds and runs the graphs: the one place that decides, from the ND4J backend and
 * {@code -Dloraj.engine}, whether the CPU-only kernels are used.
 *
 * <p><b>Optimized</b> (the default on ND4J's CPU backend): graphs may contain ops computed in Java
 * on host memory ({@code JavaComputedOp}: the quantized matmul, the dropout mask, the intrinsic
 * projection), OpenBLAS {@code cblas_sgemm} on raw pointers for attention's batched products
 * ({@code BatchedMatMul}), Java Vector API kernels ({@code VectorKernelOp}) and the replay of
 * recorded op lists ({@code GradientReplay}). All of these read or write array buffers from the
 * JVM, which on a device backend would mean a copy to the host and back per op, or wrong data.
 *
 * <p><b>Portable</b> (chosen automatically on any other backend, e.g. CUDA; on the CPU with
 * {@code -Dloraj.engine=portable}): every graph is made of ND4J's own ops, executed by libnd4j on
 * whatever device the backend drives. Quantized weights are dequantized by graph ops each run
 * (slower, same values), dropout masks come from an in-graph integer hash of a per-run seed, and
 * SameDiff's own session runs every step. The op classes that only change how SameDiff builds the
 * backward graph ({@code FrozenMatMul}, {@code FrozenAdd}, {@code SoftmaxGrad}, {@code RowNorm},
 * {@code GradientCut}, ...) stay: they execute libnd4j's kernels and differ from ND4J's classes
 * only in the gradient ops they emit, which are stock ops too. SVD and QR run on the host in both
 * modes (LAPACK on a copy; they are init-time work).
 *
 * <p>{@code -Dloraj.engine}: {@code auto} (default), {@code portable}, or {@code optimized}
 * (refused on a non-CPU backend). The older switches {@code -Dloraj.vectorKernels=false} and
 * {@code -Dloraj.replay=false} still turn one feature off in the optimized engine; the portable
 * engine has both off.
 */
public final class Engine {

  /** The engine's mode. */
  public enum Mode {
    OPTIMIZED, PORTABLE;

    /** The name {@code -Dloraj.engine} and {@code lora --version} use. */
    public String label() {
      return name().toLowerCase(Locale.ROOT);
    }
  }

  private final Mode mode;
  private final String backend;
  private final boolean cpuBackend;
  private final boolean vectorKernels;
  private final boolean replay;

  private Engine(Mode mode, String backend, boolean cpuBackend, boolean vectorApi,
      boolean vectorSwitch, boolean replaySwitch) {
    this.mode = mode;
    this.backend = backend;
    this.cpuBackend = cpuBackend;
    this.vectorKernels = mode == Mode.OPTIMIZED && vectorApi && vectorSwitch;
    this.replay = mode == Mode.OPTIMIZED && replaySwitch;
  }

  private static final class Detected {
    static final Engine ENGINE = detect();
  }

  private static volatile Engine override;

  /** The engine in force: the detected one, unless {@link #use} set another. */
  public static Engine current() {
    Engine o = override;
    return o != null ? o : Detected.ENGINE;
  }

  /** Whether graphs are built from ND4J's own ops only (see the class comment). */
  public static boolean portable() {
    return current().mode == Mode.PORTABLE;
  }

  /**
   * Runs with {@code mode} until the returned handle is closed (then the previous engine is back):
   * for comparing both engines in one JVM (tests, {@code lora bench step --engine}). A graph keeps
   * the ops it was built with, so build and run it inside the same scope.
   *
   * @throws IllegalArgumentException for {@link Mode#OPTIMIZED} on a non-CPU backend
   */
  public static Scope use(Mode mode) {
    Engine base = Detected.ENGINE;
    if (mode == Mode.OPTIMIZED && !base.cpuBackend) {
      throw new IllegalArgumentException(optimizedRefused(base.backend));
    }
    Engine previous = override;
    override = new Engine(mode, base.backend, base.cpuBackend, vectorApiPresent(),
        switchOn("loraj.vectorKernels"), switchOn("loraj.replay"));
    return () -> override = previous;
  }

  /** The handle of {@link #use}; closing it restores the previous engine. */
  public interface Scope extends AutoCloseable {
    @Override
    void close();
  }

  public Mode mode() {
    return mode;
  }

  /** The ND4J backend, e.g. {@code CPU} or {@code CUDA}. */
  public String backend() {
    return backend;
  }

  /** Whether ND4J runs on its CPU backend (nd4j-native). */
  public boolean cpuBackend() {
    return cpuBackend;
  }

  /** Java Vector API kernels ({@code VectorKernelOp}): optimized engine, module present, not switched off. */
  public boolean vectorKernels() {
    return vectorKernels;
  }

  /** Replay of recorded op lists ({@code GradientReplay}): optimized engine, not switched off. */
  public boolean replay() {
    return replay;
  }

  /**
   * Ops computed in Java on host buffers ({@code JavaComputedOp}) and OpenBLAS calls on raw
   * pointers ({@code BatchedMatMul}): the optimized engine only.
   */
  public boolean hostKernels() {
    return mode == Mode.OPTIMIZED;
  }

  /** One line for {@code lora --version} and reports, e.g. {@code backend CPU, engine optimized (vector kernels, replay)}. */
  public String describe() {
    StringBuilder s = new StringBuilder("backend ").append(backend).append(", engine ").append(mode.label());
    if (mode == Mode.OPTIMIZED) {
      s.append(" (host kernels").append(vectorKernels ? ", vector kernels" : "")
          .append(replay ? ", replay" : "").append(')');
    } else {
      s.append(" (ND4J ops only)");
    }
    return s.toString();
  }

  /**
   * The devices ND4J computes on, from its executioner's environment information: on CUDA each
   * device's name, compute capability and memory ({@code cuda.devicesInformation}); on the CPU
   * the core count and the JavaCPP memory limit.
   */
  public static String devices() {
    java.util.Properties p = Nd4j.getExecutioner().getEnvironmentInformation();
    if (p.get("cuda.devicesInformation") instanceof java.util.List<?> list && !list.isEmpty()) {
      StringBuilder s = new StringBuilder();
      for (Object o : list) {
        if (o instanceof java.util.Map<?, ?> d) {
          s.append(s.length() == 0 ? "" : "; ").append(d.get("cuda.deviceName"))
              .append(" (compute ").append(d.get("cuda.deviceMajor")).append('.').append(d.get("cuda.deviceMinor"))
              .append(", ").append(mib(d.get("cuda.totalMemory"))).append(" MiB, ")
              .append(mib(d.get("cuda.freeMemory"))).append(" MiB free)");
        }
      }
      return s.toString();
    }
    return "host CPU, " + Runtime.getRuntime().availableProcessors() + " cores";
  }

  private static long mib(Object bytes) {
    return bytes instanceof Number n ? n.longValue() >> 20 : -1;
  }

  @Override
  public String toString() {
    return describe();
  }

  private static Engine detect() {
    boolean cpu = Nd4j.getEnvironment().isCPU();
    String backend = backendName(cpu);
    String requested = System.getProperty("loraj.engine", "auto").trim().toLowerCase(Locale.ROOT);
    Mode mode = switch (requested) {
      case "auto", "" -> cpu ? Mode.OPTIMIZED : Mode.PORTABLE;
      case "portable" -> Mode.PORTABLE;
      case "optimized" -> {
        if (!cpu) {
          throw new IllegalArgumentException(optimizedRefused(backend));
        }
        yield Mode.OPTIMIZED;
      }
      default -> throw new IllegalArgumentException("loraj.engine = '" + requested
          + "': accepted are auto (optimized on the CPU backend, portable on others), portable, optimized");
    };
    if (cpu) {
      Threads.configureFromSettings(); // -Dloraj.threads or LORA_THREADS, before the first graph runs
    }
    return new Engine(mode, backend, cpu, vectorApiPresent(), switchOn("loraj.vectorKernels"),
        switchOn("loraj.replay"));
  }

  private static String optimizedRefused(String backend) {
    return "loraj.engine = optimized: its Java and OpenBLAS kernels work on host memory and need"
        + " ND4J's CPU backend, but the backend is " + backend + "; accepted here: auto, portable";
  }

  /** {@code CPU}, {@code CUDA}, or the backend class's name for anything else. */
  private static String backendName(boolean cpu) {
    if (cpu) {
      return "CPU";
    }
    String cls = Nd4j.getBackend().getClass().getSimpleName(); // JCublasBackend for nd4j-cuda
    return cls.contains("Cublas") || cls.contains("Cuda") ? "CUDA" : cls;
  }

  private static boolean vectorApiPresent() {
    return ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent();
  }

  private static boolean switchOn(String property) {
    return !"false".equals(System.getProperty(property));
  }
}
