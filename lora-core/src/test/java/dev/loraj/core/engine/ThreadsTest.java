package dev.loraj.core.engine;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.loraj.core.adapter.AdapterRegistry;
import dev.loraj.core.adapter.AdapterSpec;
import dev.loraj.core.golden.PeftGolden;
import dev.loraj.core.graph.Graphs;
import dev.loraj.core.graph.VectorKernelOp;
import dev.loraj.core.lora.LoraConfig;
import dev.loraj.core.model.HfModels;
import dev.loraj.core.model.PeftModel;
import dev.loraj.core.model.Targets;
import dev.loraj.core.testing.ExactArrays;
import dev.loraj.core.train.Batches;
import dev.loraj.core.train.Objective;
import dev.loraj.core.train.TrainConfig;
import dev.loraj.core.train.TrainResult;
import dev.loraj.core.train.Trainer;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Threads: the kernel split covers each index once, in aligned parts fixed by the sizes; a
 * training step gives the same bits run after run on 2 threads, and the same values on 1 and 2
 * threads up to float rounding (tolerance 1e-5 absolute on losses and logits of order 1; the
 * Vector API kernels are in fact bit-identical across thread counts, OpenBLAS need not be).
 */
class ThreadsTest {

  private int oldChunk;
  private long oldGemmPart;

  @BeforeEach
  void smallChunks() {
    oldChunk = Threads.setMinChunk(16); // split the tiny test tensors
    oldGemmPart = Threads.setGemmMinPart(64); // and the tiny products of a replayed step
  }

  @AfterEach
  void restore() {
    Threads.setMinChunk(oldChunk);
    Threads.setGemmMinPart(oldGemmPart);
    Threads.configure(1);
  }

  @Test
  void splitCoversEveryIndexOnceInAlignedParts() {
    Threads.configure(2);
    ConcurrentLinkedQueue<int[]> parts = new ConcurrentLinkedQueue<>();
    Threads.split(1000, 8, 1, (f, t) -> parts.add(new int[] {f, t}));
    List<int[]> sorted = new ArrayList<>(parts);
    sorted.sort((a, b) -> Integer.compare(a[0], b[0]));
    assertThat(sorted).hasSize(2);
    int next = 0;
    for (int[] p : sorted) {
      assertThat(p[0]).isEqualTo(next);
      assertThat(p[0] % 8).isZero();
      next = p[1];
    }
    assertThat(next).isEqualTo(1000);
    parts.clear();
    Threads.split(10, 8, 1, (f, t) -> parts.add(new int[] {f, t})); // below the minimum: one part
    assertThat(parts).singleElement().satisfies(p -> assertThat(p).containsExactly(0, 10));
  }

  @Test
  void refusesZeroThreads() {
    assertThatThrownBy(() -> Threads.configure(0)).hasMessageContaining("threads = 0");
    assertThatThrownBy(() -> Threads.setMinChunk(0)).hasMessageContaining("minChunk = 0");
  }

  @Test
  void configureSetsBlasAndKernelsAndKeepsLibnd4jLoopsOnOneThread() {
    Threads.Settings s = Threads.configure(2);
    assertThat(s.blas()).isEqualTo(2);
    assertThat(s.kernels()).isEqualTo(2);
    assertThat(s.nd4jMasterThreads()).isEqualTo(1); // OMP_NUM_THREADS=1 in the test JVM
    assertThat(s.matches(2)).isTrue();
  }

  /** Every Vector API kernel on [37, 96] (rows not a multiple of anything) on n threads. */
  private static List<INDArray> kernels(int n) {
    Threads.configure(n);
    Nd4j.getRandom().setSeed(3);
    INDArray xs = Nd4j.randn(DataType.FLOAT, 37, 96).muli(3);
    INDArray ys = Nd4j.rand(DataType.FLOAT, 37, 96);
    SameDiff sd = Graphs.newSameDiff();
    SDVariable x = sd.constant("x", xs);
    SDVariable y = sd.constant("y", ys);
    List<SDVariable> outs = List.of(VectorKernelOp.gelu(sd, x), VectorKernelOp.silu(sd, x),
        VectorKernelOp.exp(sd, x), VectorKernelOp.softmaxLastAxis(sd, x, 2),
        VectorKernelOp.columnSums(sd, x, y), VectorKernelOp.columnSums(sd, x, null),
        VectorKernelOp.crossEntropyRows(sd, x, y));
    Map<String, INDArray> r = sd.output(Map.of(), outs.stream().map(SDVariable::name).toList());
    return outs.stream().map(v -> r.get(v.name()).dup()).toList();
  }

  @Test
  void vectorKernelsGiveTheSameBitsOnOneAndTwoThreads() {
    org.junit.jupiter.api.Assumptions.assumeTrue(VectorKernelOp.available(), "the portable engine has no Vector API kernels");
    List<INDArray> one = kernels(1);
    List<INDArray> two = kernels(2);
    for (int i = 0; i < one.size(); i++) {
      ExactArrays.assertBitIdentical(two.get(i), one.get(i), "kernel output " + i);
    }
  }

  private record Run(List<Double> losses, INDArray logits) {}

  /** Four LoRA steps of the tiny Llama (SiLU, softmax, cross-entropy kernels) on n threads. */
  private static Run train(int n) throws Exception {
    Threads.configure(n);
    PeftModel model = new PeftModel(HfModels.load(PeftGolden.root().resolve("llama-tiny")),
        AdapterRegistry.discover());
    model.addAdapter("default", new AdapterSpec(LoraConfig.of(4, 8),
        Targets.of("q_proj", "v_proj", "up_proj", "down_proj")), 7);
    Batches batches = (step, micro) -> tokens(step, 64);
    TrainResult r = new Trainer(TrainConfig.of(4, 1e-2, 7)).train(model, Objective.classification(), batches);
    INDArray logits = model.output(Map.of("input_ids", Nd4j.createFromArray(new long[][] {{3, 14, 15, 9, 26}})));
    return new Run(r.losses(), logits.dup());
  }

  /** Random tokens [2, 7] (seeded by the step) and their one-hot next tokens [14, vocab]. */
  private static Map<String, INDArray> tokens(long step, int vocab) {
    java.util.SplittableRandom rnd = new java.util.SplittableRandom(step);
    long[] stream = rnd.longs(16, 0, vocab).toArray();
    INDArray ids = Nd4j.createFromArray(stream).reshape(2, 8);
    INDArray labels = Nd4j.zeros(DataType.FLOAT, 14, vocab);
    for (int i = 0; i < 14; i++) {
      labels.putScalar(i, stream[i / 7 * 8 + i % 7 + 1], 1f);
    }
    return Map.of("input_ids", ids.get(org.nd4j.linalg.indexing.NDArrayIndex.all(),
        org.nd4j.linalg.indexing.NDArrayIndex.interval(0, 7)).dup(), "labels", labels);
  }

  @Test
  void trainingIsDeterministicForTwoThreadsAndMatchesOneThread() throws Exception {
    Run a = train(2);
    Run b = train(2);
    assertThat(b.losses()).isEqualTo(a.losses());
    ExactArrays.assertBitIdentical(b.logits(), a.logits(), "2 threads, twice");
    Run one = train(1);
    for (int i = 0; i < one.losses().size(); i++) {
      assertThat(a.losses().get(i)).isCloseTo(one.losses().get(i), org.assertj.core.data.Offset.offset(1e-5));
    }
    assertThat(PeftGolden.maxAbsDiff(a.logits(), one.logits())).isLessThan(1e-5);
  }
}
