package dev.loraj.bench.cli;

import dev.loraj.bench.step.StepBench;
import dev.loraj.core.engine.Engine;
import java.util.Arrays;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code lora bench step}: median time of a training (or forward) step of a randomly initialised
 * BERT or Llama; see {@link StepBench} for what a step holds. {@code scripts/bench/peft_step.py}
 * runs the same step with PyTorch + PEFT and calls this command for the Java side.
 */
@Command(name = "step", mixinStandardHelpOptions = true,
    description = "Median step time (ms) of a random BERT (6x384, classification head) or Llama"
        + " (4x512, causal LM): an adapter of any variant (LoRA on query/value by default), full"
        + " fine-tuning, or forward only; AdamW.")
final class BenchStepCommand implements Callable<Integer> {

  @Option(names = "--arch", required = true,
      description = "bert (6 x 384), bert-base (12 x 768, the GEMM-heavy shapes) or llama (4 x 512).")
  String arch;

  @Option(names = "--mode", defaultValue = "lora",
      description = "lora (an adapter: --variant), full or forward (default: ${DEFAULT-VALUE}).")
  String mode;

  @Option(names = "--variant", defaultValue = "lora",
      description = "Registered variant of the adapter (./lora variants), with its default config at"
          + " r = --rank, alpha = 2r (default: ${DEFAULT-VALUE}).")
  String variant;

  @Option(names = "--targets", split = ",", paramLabel = "NAMES",
      description = "Target modules of the adapter, e.g. query,key,value or all-linear"
          + " (default: query,value for BERT, q_proj,v_proj for Llama).")
  java.util.List<String> targets = java.util.List.of();

  @Option(names = "--batch", defaultValue = "8", description = "Examples per step (default: ${DEFAULT-VALUE}).")
  int batch;

  @Option(names = "--seq", defaultValue = "128", description = "Tokens per example (default: ${DEFAULT-VALUE}).")
  int seq;

  @Option(names = "--rank", defaultValue = "8", description = "LoRA rank r, alpha = 2r (default: ${DEFAULT-VALUE}).")
  int rank;

  @Option(names = "--threads", defaultValue = "0",
      description = "CPU threads of the GEMMs (OpenBLAS) and the Vector API kernels; libnd4j's"
          + " element-wise loops stay on OMP_NUM_THREADS (default 1); 0 keeps the launcher's"
          + " LORA_THREADS (default: ${DEFAULT-VALUE}).")
  int threads;

  @Option(names = "--steps", defaultValue = "10", description = "Timed steps (default: ${DEFAULT-VALUE}).")
  int steps;

  @Option(names = "--warmup", defaultValue = "3", description = "Untimed steps first (default: ${DEFAULT-VALUE}).")
  int warmup;

  @Option(names = "--seed", defaultValue = "1", description = "Seed of weights, adapter and tokens (default: ${DEFAULT-VALUE}).")
  long seed;

  @Option(names = "--profile", description = "Also print the time per SameDiff op of the timed steps (stderr).")
  boolean profile;

  @Option(names = "--gc", negatable = true, defaultValue = "true", fallbackValue = "true",
      description = "System.gc() before every step, untimed, so that ND4J's native temporaries of the"
          + " previous step are freed (they are freed only when collected); --no-gc to skip (default: ${DEFAULT-VALUE}).")
  boolean gc;

  @Option(names = "--fused-loss", defaultValue = "false",
      description = "Cross-entropy as libnd4j's fused softmax_cross_entropy_loss op on one-hot labels instead of"
          + " the framework's row kernel (llama: on next-token ids, Objective.tokenCrossEntropy(); bert:"
          + " Objective.classification()) (measured: 5-7x slower on [1024, 32000]).")
  boolean fusedLoss;

  @Option(names = "--base-dtype", defaultValue = "f32",
      description = "Type of the frozen linear weights: auto, bf16, f16 or f32 (the random weights"
          + " are float32, so auto is f32); computed in float32, trainable weights stay float32"
          + " (default: ${DEFAULT-VALUE}).")
  String baseDtype;

  @Option(names = "--checkpointing", defaultValue = "false",
      description = "Gradient checkpointing per transformer block: keep only the blocks' inputs in"
          + " the forward pass and recompute each block's forward in the backward pass (every"
          + " step; the first also records the plan, keep --warmup >= 1). Prints the activation"
          + " bytes the step held.")
  boolean checkpointing;

  @Option(names = "--json", description = "Print one JSON object: step_ms_median, step_ms, arch, mode, batch, seq, rank, threads, ...")
  boolean json;

  @Option(names = "--engine", split = ",", description = "Engine(s): auto, optimized, portable;"
      + " several (e.g. optimized,portable) alternate in one JVM, --rounds times, and the ratio of"
      + " their medians is printed (default: auto, the engine -Dloraj.engine and the backend select).")
  java.util.List<String> engines = java.util.List.of("auto");

  @Option(names = "--rounds", defaultValue = "1", description = "Rounds of the --engine list (default: ${DEFAULT-VALUE}).")
  int rounds;

  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Override
  public Integer call() {
    Usage.range(spec, "--batch", batch, 1, 1 << 16);
    Usage.range(spec, "--seq", seq, 1, 1 << 16);
    Usage.range(spec, "--rank", rank, 1, 1 << 16);
    Usage.range(spec, "--threads", threads, 0, 4096);
    Usage.range(spec, "--steps", steps, 1, Integer.MAX_VALUE);
    Usage.range(spec, "--warmup", warmup, 0, Integer.MAX_VALUE);
    if (engines.size() == 1 && "auto".equalsIgnoreCase(engines.get(0)) && rounds == 1) {
      return runOnce();
    }
    if (rounds < 1) {
      throw new IllegalArgumentException("--rounds = " + rounds + ": must be >= 1");
    }
    java.util.Map<String, java.util.List<Double>> steps = new java.util.LinkedHashMap<>();
    for (int round = 0; round < rounds; round++) {
      for (String e : engines) {
        String label = e.toLowerCase(Locale.ROOT);
        if (label.equals("auto")) {
          steps.computeIfAbsent(Engine.current().mode().label(), k -> new java.util.ArrayList<>()).addAll(timed());
          continue;
        }
        try (Engine.Scope scope = Engine.use(parse("--engine", label, Engine.Mode.class))) {
          steps.computeIfAbsent(label, k -> new java.util.ArrayList<>()).addAll(timed());
        }
      }
    }
    var out = spec.commandLine().getOut();
    java.util.Map<String, Double> medians = new java.util.LinkedHashMap<>();
    steps.forEach((k, v) -> medians.put(k, StepBench.median(v)));
    medians.forEach((k, m) -> out.printf(Locale.ROOT, "engine %s: median %.1f ms over %d steps (%d rounds, interleaved)%n",
        k, m, steps.get(k).size(), rounds));
    if (medians.size() == 2) {
      var it = medians.entrySet().iterator();
      var a = it.next();
      var b = it.next();
      out.printf(Locale.ROOT, "ratio %s / %s: %.2f%n", b.getKey(), a.getKey(), b.getValue() / a.getValue());
    }
    out.flush();
    return 0;
  }

  /** One measurement with the engine in force; prints its line and returns its step times. */
  private java.util.List<Double> timed() {
    spec.commandLine().getOut().print("[" + Engine.current().describe() + "] ");
    runOnce();
    return lastSteps;
  }

  private java.util.List<Double> lastSteps = java.util.List.of();

  private Integer runOnce() {
    StepBench.Spec s = new StepBench.Spec(parse("--arch", arch, StepBench.Arch.class),
        parse("--mode", mode, StepBench.Mode.class), batch, seq, rank, threads, steps, warmup, seed, profile, gc,
        fusedLoss, parse("--base-dtype", baseDtype, dev.loraj.core.model.BaseDtype.class), checkpointing,
        variant, targets);
    StepBench.Result r = StepBench.run(s);
    lastSteps = r.stepMs();
    if (threads > 0 && !r.threads().matches(threads)) {
      spec.commandLine().getErr().println("warning: --threads " + threads + " but ND4J runs with "
          + r.threads());
    }
    var out = spec.commandLine().getOut();
    String pin = dev.loraj.core.engine.BlasCheck.pinNote(System.getenv());
    if (pin != null) {
      spec.commandLine().getErr().println("note: " + pin);
    }
    if (r.notReplayed() != null) {
      spec.commandLine().getErr().println("note: steps run through SameDiff's session, not replayed: " + r.notReplayed());
    }
    if (r.profile() != null) {
      spec.commandLine().getErr().print(r.profile().table(r.stepMs().size(), 15, r.medianMs()));
      spec.commandLine().getErr().print(r.profile().gemmTable(6, r.stepMs().size()));
      spec.commandLine().getErr().flush();
    }
    if (json) {
      out.println(StepBench.json(r));
    } else {
      out.printf(Locale.ROOT, "%s %s batch %d seq %d rank %d threads %d: median %.1f ms over %d steps"
              + " (after %d warm-up), trainable %d, OpenBLAS kernel %s%n", arch,
          s.mode() == StepBench.Mode.LORA ? s.variant() : mode, batch, seq, rank, r.threads().blas(),
          r.medianMs(), r.stepMs().size(), warmup, r.trainableParameters(),
          dev.loraj.core.engine.BlasCheck.coreName());
      if (!"forward".equalsIgnoreCase(mode)) {
        out.printf(Locale.ROOT, "activations %.1f MiB held by the step (ledger), checkpointing %s"
            + " (%d blocks recomputed)%n", r.activationBytes() / 1048576.0, checkpointing ? "on" : "off",
            r.recomputedBlocks());
      }
    }
    out.flush();
    return 0;
  }

  static <E extends Enum<E>> E parse(String option, String value, Class<E> type) {
    for (E e : type.getEnumConstants()) {
      if (e.name().equalsIgnoreCase(value.replace('-', '_'))) {
        return e;
      }
    }
    throw new IllegalArgumentException(option + " = '" + value + "'; accepted: "
        + Arrays.stream(type.getEnumConstants())
            .map(e -> e.name().toLowerCase(Locale.ROOT).replace('_', '-')).toList());
  }
}
