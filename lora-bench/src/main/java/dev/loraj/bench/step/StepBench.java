package dev.loraj.bench.step;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.loraj.core.adapter.AdapterConfig;
import dev.loraj.core.adapter.AdapterRegistry;
import dev.loraj.core.adapter.AdapterSpec;
import dev.loraj.core.engine.MemoryLedger;
import dev.loraj.core.lora.LoraConfig;
import dev.loraj.core.engine.Threads;
import dev.loraj.core.model.BaseModel;
import dev.loraj.core.model.PeftModel;
import dev.loraj.core.model.Targets;
import dev.loraj.core.model.bert.BertModel;
import dev.loraj.core.model.llama.LlamaModel;
import dev.loraj.core.train.Batches;
import dev.loraj.core.train.Objective;
import dev.loraj.core.train.TrainConfig;
import dev.loraj.core.train.Trainer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import org.nd4j.autodiff.loss.LossReduce;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * One training (or forward) step of a randomly initialised BERT or Llama, timed: the Java side of
 * the comparison with PyTorch + PEFT ({@code scripts/bench/peft_step.py} builds the same models,
 * adapters, optimizer and batches).
 *
 * <ul>
 *   <li>bert, bert-base: {@link StepShapes#bert()} / {@link StepShapes#bertBase()} with HF's
 *       sequence-classification head (pooler +
 *       classifier, 2 labels), softmax cross-entropy on one label per example;
 *   <li>llama: {@link StepShapes#llama()}, causal-LM cross-entropy on every position (labels
 *       are the next tokens);
 *   <li>lora: an adapter of any registered variant ({@link Spec#variant()}, default LoRA) with
 *       its default config at r = rank, alpha = 2 rank, on query/value (q_proj/v_proj) or the
 *       given targets; BERT's classifier is trained too (PEFT's {@code modules_to_save} for
 *       sequence classification);
 *   <li>full: every weight trainable; forward: the base model's inference graph, no gradient.
 * </ul>
 *
 * AdamW (lr 1e-4, weight decay 0.01, torch's defaults otherwise) through {@link Trainer}; the
 * loss is softmax cross-entropy ({@link #objective(Spec)}: a Llama's reads next-token ids). One
 * batch of random tokens (fixed seed) is reused every step.
 */
public final class StepBench {

  /** bert: 6 x 384 (MiniLM's shape); bert_base ({@code bert-base}): 12 x 768; llama: 4 x 512. */
  public enum Arch {
    BERT, BERT_BASE, LLAMA;

    boolean isBert() {
      return this != LLAMA;
    }
  }

  public enum Mode { LORA, FULL, FORWARD }

  /**
   * @param threads ND4J's CPU threads ({@link Threads#configure}); 0 leaves them as they are
   * @param steps timed steps, after {@code warmup} untimed ones
   * @param gcBetweenSteps run {@code System.gc()} before every step, outside the timed region:
   *     ND4J frees native arrays only when their Java objects are collected, and with a nearly
   *     empty heap a step's temporaries pile up (RSS 6-8 GB for the BERT LoRA step at batch 8,
   *     seq 128), so every step pays for fresh pages; PyTorch frees them by reference counting
   * @param fusedLoss the loss as one fused op ({@link #objective(boolean)})
   * @param checkpointing gradient checkpointing per block ({@link Trainer#checkpointing}): every
   *     step is replayed, the first one after recording its plan on scratch arrays, so time it
   *     after a warm-up of 1 or more
   * @param variant the registered variant of {@link Mode#LORA} (e.g. lora, dora, vera); only
   *     "lora" with the other modes
   * @param targets target module names (or "all-linear") of the adapter; empty: query and value
   */
  public record Spec(Arch arch, Mode mode, int batch, int seq, int rank, int threads, int steps,
      int warmup, long seed, boolean profile, boolean gcBetweenSteps,
      boolean fusedLoss, dev.loraj.core.model.BaseDtype baseDtype, boolean checkpointing,
      String variant, List<String> targets) {

    /** LoRA on query and value over float32 frozen weights, without checkpointing. */
    public Spec(Arch arch, Mode mode, int batch, int seq, int rank, int threads, int steps,
        int warmup, long seed, boolean profile, boolean gcBetweenSteps, boolean fusedLoss) {
      this(arch, mode, batch, seq, rank, threads, steps, warmup, seed, profile, gcBetweenSteps,
          fusedLoss, dev.loraj.core.model.BaseDtype.F32, false, "lora", List.of());
    }

    public Spec {
      java.util.Objects.requireNonNull(baseDtype, "baseDtype");
      variant = variant == null || variant.isBlank() ? "lora" : variant.trim().toLowerCase(Locale.ROOT);
      targets = targets == null ? List.of() : List.copyOf(targets);
      if (mode != Mode.LORA && (!variant.equals("lora") || !targets.isEmpty())) {
        throw new IllegalArgumentException("variant = '" + variant + "', targets = " + targets
            + ": an adapter needs mode lora (mode is " + lower(mode) + ")");
      }
      positive("batch", batch);
      positive("seq", seq);
      positive("rank", rank);
      positive("steps", steps);
      if (threads < 0) {
        throw new IllegalArgumentException("threads = " + threads + ": must be >= 1 (or 0: unchanged)");
      }
      if (warmup < 0) {
        throw new IllegalArgumentException("warmup = " + warmup + ": must be >= 0");
      }
      int maxSeq = arch.isBert() ? StepShapes.bert(arch).maxPositionEmbeddings() : Integer.MAX_VALUE;
      if (seq > maxSeq) {
        throw new IllegalArgumentException("seq = " + seq + ": BERT has " + maxSeq + " positions");
      }
    }

    private static void positive(String field, int v) {
      if (v < 1) {
        throw new IllegalArgumentException(field + " = " + v + ": must be >= 1");
      }
    }
  }

  /**
   * Step times in ms (timed steps only, in order) and their median; with {@link Spec#profile()}
   * the per-op times of the timed steps (null otherwise). A training step also reports the
   * activation bytes its session held after the last step (the memory ledger's
   * {@code activations} category) and the blocks it recomputed (0 without checkpointing).
   */
  public record Result(Spec spec, List<Double> stepMs, double medianMs, long trainableParameters,
      Threads.Settings threads, OpProfile profile, long activationBytes, int recomputedBlocks,
      String notReplayed) {}

  private StepBench() {}

  public static Result run(Spec spec) {
    Threads.Settings threads = spec.threads() > 0 ? Threads.configure(spec.threads()) : Threads.current();
    PeftModel model = model(spec);
    Map<String, INDArray> batch = batch(spec);
    List<Double> ms = new ArrayList<>();
    long trainable = 0;
    long activations = 0;
    int recomputed = 0;
    String notReplayed = null;
    OpProfile profile = spec.profile() ? new OpProfile() : null;
    if (spec.mode() == Mode.FORWARD) {
      Map<String, INDArray> in = new LinkedHashMap<>(batch);
      in.remove("labels");
      in.remove(Objective.LABEL_IDS);
      SameDiff sd = model.cachedInference(null).sd();
      for (int i = 0; i < spec.warmup() + spec.steps(); i++) {
        listen(sd, profile, i == spec.warmup());
        collect(spec);
        long t0 = System.nanoTime();
        model.output(in).getDouble(0); // CPU ops are synchronous; the read only keeps the result live
        record(ms, i, spec, t0);
      }
    } else {
      int total = spec.warmup() + spec.steps();
      TrainConfig cfg = TrainConfig.of(total, 1e-4, spec.seed()).withWeightDecay(0.01);
      Trainer.Session session = new Trainer(cfg).checkpointing(spec.checkpointing())
          .start(model, objective(spec));
      trainable = session.trainableParameters();
      Batches batches = (step, micro) -> batch;
      for (int i = 0; i < total; i++) {
        if (profile != null && i == spec.warmup()) {
          // replayed steps (from the third on) are timed by the plan; others by a listener,
          // which makes SameDiff run them
          if (session.replayUnsupported() == null && spec.warmup() >= 2) {
            session.profile(profile);
          } else {
            session.graph().setListeners(profile);
          }
        }
        collect(spec);
        long t0 = System.nanoTime();
        session.step(i + 1, batches);
        record(ms, i, spec, t0);
      }
      MemoryLedger ledger = new MemoryLedger();
      model.addTo(ledger);
      session.addTo(ledger);
      activations = ledger.bytes(MemoryLedger.Category.ACTIVATIONS);
      recomputed = session.recomputedBlocks();
      notReplayed = session.replayUnsupported();
    }
    return new Result(spec, List.copyOf(ms), median(ms), trainable, threads, profile, activations,
        recomputed, notReplayed);
  }

  private static void collect(Spec spec) {
    if (spec.gcBetweenSteps()) {
      System.gc();
    }
  }

  /** Attaches the profile at the first timed step. */
  private static void listen(SameDiff sd, OpProfile profile, boolean firstTimed) {
    if (profile != null && firstTimed) {
      sd.setListeners(profile);
    }
  }

  private static void record(List<Double> ms, int i, Spec spec, long t0) {
    double t = (System.nanoTime() - t0) / 1e6;
    if (i >= spec.warmup()) {
      ms.add(t);
    }
  }

  /** The model with its adapter or trainable base, per {@link Spec#mode()}. */
  static PeftModel model(Spec spec) {
    BaseModel base = switch (spec.arch()) {
      case BERT, BERT_BASE -> BertModel.random(StepShapes.bert(spec.arch()), BertModel.Pooling.POOLER,
          StepShapes.BERT_LABELS, spec.seed());
      case LLAMA -> LlamaModel.random(StepShapes.llama(), spec.seed());
    };
    PeftModel pm = new PeftModel(base, AdapterRegistry.discover());
    switch (spec.mode()) {
      case LORA -> {
        AdapterConfig config = pm.registry().get(spec.variant()).defaultConfig()
            .withRankAndAlpha(spec.rank(), 2.0 * spec.rank());
        pm.addAdapter("default", new AdapterSpec(config, targets(spec)), spec.seed() + 1);
      }
      case FULL -> pm.addTrainableBase(new LinkedHashSet<>(base.weights().keySet()));
      case FORWARD -> { }
      default -> throw new AssertionError(spec.mode());
    }
    // random weights are float32: auto keeps them so, bf16/f16 hold the frozen linear ones narrower
    dev.loraj.core.quant.QuantizedBase.holdFrozen(pm, spec.baseDtype());
    return pm;
  }

  /** The spec's target names, else query and value. */
  static List<String> targetNames(Spec spec) {
    if (!spec.targets().isEmpty()) {
      return spec.targets();
    }
    return spec.arch().isBert() ? List.of("query", "value") : List.of("q_proj", "v_proj");
  }

  /** The adapter's targets: the spec's, else query and value; BERT's classifier trains too. */
  static Targets targets(Spec spec) {
    List<String> names = targetNames(spec);
    Targets t = names.size() == 1 && names.get(0).equals(Targets.ALL_LINEAR)
        ? Targets.allLinear() : Targets.of(names.toArray(String[]::new));
    return spec.arch().isBert() ? t.withModulesToSave("classifier") : t;
  }

  /**
   * Random tokens [batch, seq] (seed {@code spec.seed() + 2}); BERT: attention mask all ones,
   * token types 0, one random label per example (one-hot [batch, 2]); Llama: next-token label ids
   * [batch * seq] (one-hot rows [batch * seq, vocab] for the fused libnd4j loss; the last
   * position's target is a random token).
   */
  static Map<String, INDArray> batch(Spec spec) {
    SplittableRandom rnd = new SplittableRandom(spec.seed() + 2);
    int b = spec.batch();
    int s = spec.seq();
    int vocab = spec.arch().isBert() ? StepShapes.bert(spec.arch()).vocabSize() : StepShapes.llama().vocabSize();
    long[][] ids = randomTokens(b, s, vocab, rnd);
    Map<String, INDArray> m = new LinkedHashMap<>();
    m.put("input_ids", Nd4j.createFromArray(ids));
    if (spec.arch().isBert()) {
      long[][] ones = new long[b][s];
      for (long[] row : ones) {
        Arrays.fill(row, 1L);
      }
      m.put(BertModel.ATTENTION_MASK, Nd4j.createFromArray(ones));
      m.put(BertModel.TOKEN_TYPE_IDS, Nd4j.createFromArray(new long[b][s]));
      INDArray labels = Nd4j.zeros(DataType.FLOAT, b, StepShapes.BERT_LABELS);
      for (int i = 0; i < b; i++) {
        labels.putScalar(i, rnd.nextInt(StepShapes.BERT_LABELS), 1f);
      }
      m.put("labels", labels);
    } else if (spec.fusedLoss()) {
      m.put("labels", nextTokenLabels(ids, vocab, rnd));
    } else {
      m.put(Objective.LABEL_IDS, nextTokenIds(ids, vocab, rnd));
    }
    return m;
  }

  /** Uniform random token ids [batch, seq] below {@code vocab}. */
  public static long[][] randomTokens(int batch, int seq, int vocab, SplittableRandom rnd) {
    long[][] ids = new long[batch][seq];
    for (long[] row : ids) {
      for (int t = 0; t < seq; t++) {
        row[t] = rnd.nextInt(vocab);
      }
    }
    return ids;
  }

  /**
   * Next-token label ids [batch * seq] for token rows {@code ids} (row {@code b * seq + t} is
   * token {@code t + 1}; the last position's target is a random token): the causal-LM loss as
   * {@link Objective#tokenCrossEntropy()} reads it. The same labels as {@link #nextTokenLabels}
   * for the same {@code rnd} state.
   */
  public static INDArray nextTokenIds(long[][] ids, int vocab, SplittableRandom rnd) {
    int s = ids[0].length;
    long[] next = new long[ids.length * s];
    for (int i = 0; i < ids.length; i++) {
      for (int t = 0; t < s; t++) {
        next[i * s + t] = t + 1 < s ? ids[i][t + 1] : rnd.nextInt(vocab);
      }
    }
    return Nd4j.createFromArray(next);
  }

  /**
   * One-hot next-token labels [batch * seq, vocab] for token rows {@code ids} (row
   * {@code b * seq + t} is token {@code t + 1}; the last position's target is a random token):
   * the causal-LM loss as {@link Objective#classification()} reads it.
   */
  public static INDArray nextTokenLabels(long[][] ids, int vocab, SplittableRandom rnd) {
    int b = ids.length;
    int s = ids[0].length;
    INDArray labels = Nd4j.zeros(DataType.FLOAT, (long) b * s, vocab);
    for (int i = 0; i < b; i++) {
      for (int t = 0; t < s; t++) {
        long next = t + 1 < s ? ids[i][t + 1] : rnd.nextInt(vocab);
        labels.putScalar((long) i * s + t, next, 1f);
      }
    }
    return labels;
  }

  /**
   * Softmax cross-entropy over the logits' rows ([batch, 2] for BERT, [batch * seq, vocab] for
   * Llama), mean over rows, with one-hot {@code labels}.
   *
   * @param fused libnd4j's fused {@code softmax_cross_entropy_loss} (one op forward, one
   *     backward); otherwise {@link Objective#classification()}, log-softmax from elementary ops
   *     (max, subtract, exp, sum, log, multiply: each a pass over [rows, vocab], forward and
   *     backward, plus the gradient through the max). Same loss and gradients (BenchObjectiveTest);
   *     the fused op's backward ignores the incoming gradient, which is right only because its
   *     output is the loss itself. Measured (llama, [1024, 32000] logits, 1 thread): fused
   *     forward 0.78 s + backward 1.65 s against about 0.35 s for the elementary ops, so the
   *     default is the elementary form
   */
  public static Objective objective(boolean fused) {
    if (!fused) {
      return Objective.classification();
    }
    return fusedOneHot();
  }

  /**
   * The loss of {@code spec}: a Llama's causal-LM loss reads label ids
   * ({@link Objective#tokenCrossEntropy()}: no one-hot [batch * seq, vocab] array) unless the
   * fused libnd4j op is asked for, which reads one-hot rows; BERT: {@link #objective(boolean)}.
   */
  public static Objective objective(Spec spec) {
    return spec.arch().isBert() || spec.fusedLoss() ? objective(spec.fusedLoss()) : Objective.tokenCrossEntropy();
  }

  private static Objective fusedOneHot() {
    return new Objective() {
      @Override
      public SDVariable loss(SameDiff sd, SDVariable logits) {
        SDVariable labels = sd.placeHolder("labels", DataType.FLOAT, -1, -1);
        return sd.loss().softmaxCrossEntropy("softmax_ce", labels, logits, null,
            LossReduce.MEAN_BY_NONZERO_WEIGHT_COUNT, 0.0); // -mean_i sum_c y_ic log p_ic
      }

      @Override
      public List<String> labelInputs() {
        return List.of("labels");
      }
    };
  }

  public static double median(List<Double> xs) {
    double[] s = xs.stream().mapToDouble(Double::doubleValue).sorted().toArray();
    int n = s.length;
    return n % 2 == 1 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
  }

  /** The JSON line of {@code lora bench step --json}. */
  public static String json(Result r) {
    ObjectMapper om = new ObjectMapper();
    ObjectNode n = om.createObjectNode();
    n.put("step_ms_median", round(r.medianMs()));
    ArrayNode steps = n.putArray("step_ms");
    r.stepMs().forEach(v -> steps.add(round(v)));
    Spec s = r.spec();
    n.put("arch", lower(s.arch()).replace('_', '-'));
    n.put("mode", lower(s.mode()));
    if (s.mode() == Mode.LORA) {
      n.put("variant", s.variant());
      n.set("targets", om.valueToTree(targetNames(s)));
    }
    n.put("batch", s.batch());
    n.put("seq", s.seq());
    n.put("rank", s.rank());
    n.put("engine", dev.loraj.core.engine.Engine.current().describe());
    n.put("blas_core", dev.loraj.core.engine.BlasCheck.coreName());
    n.put("threads", s.threads() > 0 ? s.threads() : r.threads().blas());
    n.put("blas_threads", r.threads().blas());
    n.put("kernel_threads", r.threads().kernels());
    n.put("omp_threads", r.threads().omp());
    n.put("nd4j_max_threads", r.threads().nd4jMaxThreads());
    n.put("nd4j_master_threads", r.threads().nd4jMasterThreads());
    n.put("steps", s.steps());
    n.put("warmup", s.warmup());
    n.put("trainable_params", r.trainableParameters());
    if (r.notReplayed() != null) {
      n.put("not_replayed", r.notReplayed());
    }
    n.put("gc_between_steps", s.gcBetweenSteps());
    n.put("fused_loss", s.fusedLoss());
    n.put("base_dtype", s.baseDtype().json());
    n.put("checkpointing", s.checkpointing());
    n.put("recomputed_blocks", r.recomputedBlocks());
    n.put("activation_bytes", r.activationBytes());
    try {
      return om.writeValueAsString(n);
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
  }

  private static double round(double ms) {
    return Math.round(ms * 1000) / 1000.0;
  }

  static String lower(Enum<?> e) {
    return e.name().toLowerCase(Locale.ROOT);
  }

}
