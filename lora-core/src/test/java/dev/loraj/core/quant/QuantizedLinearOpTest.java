package dev.loraj.core.quant;

import static org.assertj.core.api.Assertions.assertThat;

import dev.loraj.core.graph.Graphs;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

class QuantizedLinearOpTest {

  static INDArray gaussian(long rows, long cols, long seed, double std) {
    Random rnd = new Random(seed);
    float[] v = new float[Math.toIntExact(rows * cols)];
    for (int i = 0; i < v.length; i++) {
      v[i] = (float) (rnd.nextGaussian() * std);
    }
    return Nd4j.create(v, new long[] {rows, cols}, DataType.FLOAT);
  }

  /**
   * Forward and gradients equal the same graph with the dequantized weight as a dense constant
   * (chunked: out = 600 > 256 rows per chunk); the gradient graph has no dense matmul backward.
   */
  @Test
  void forwardAndGradientsEqualTheDenseGraph() {
    int n = 9;
    int in = 40;
    int out = 600;
    QuantizedWeight q = QuantizedWeight.quantize(gaussian(out, in, 1, 0.1), QuantFormat.NF4, 64, true);
    INDArray deq = q.dequantize();
    INDArray xv = gaussian(n, in, 2, 1);
    INDArray vv = gaussian(1, in, 3, 1);
    INDArray c = gaussian(n, out, 4, 1);

    SameDiff ref = Graphs.newSameDiff();
    SDVariable x1 = ref.placeHolder("x", DataType.FLOAT, -1, in);
    SDVariable v1 = ref.var("v", vv.dup());
    SDVariable y1 = ref.mmul(x1.mul(v1), ref.constant("w", deq), false, true, false);
    SDVariable l1 = y1.mul(ref.constant(c)).sum();
    ref.setLossVariables(l1.name());
    Graphs.createGradFunction(ref, List.of());

    SameDiff sd = Graphs.newSameDiff();
    SDVariable x2 = sd.placeHolder("x", DataType.FLOAT, -1, in);
    SDVariable v2 = sd.var("v", vv.dup());
    SDVariable y2 = QuantizedLinearOp.apply(sd, x2.mul(v2), q);
    SDVariable l2 = y2.mul(sd.constant(c)).sum();
    sd.setLossVariables(l2.name());
    Graphs.createGradFunction(sd, List.of());

    Map<String, INDArray> ph = Map.of("x", xv);
    INDArray yRef = ref.output(ph, y1.name()).get(y1.name());
    INDArray yQ = sd.output(ph, y2.name()).get(y2.name());
    assertThat(yQ.shape()).containsExactly(n, out);
    assertThat(yQ.equalsWithEps(yRef, 1e-4)).as("forward").isTrue();
    for (int rep = 0; rep < 2; rep++) { // the second run reuses buffers and closes old results
      INDArray gRef = ref.calculateGradients(ph, "v").get("v");
      INDArray gQ = sd.calculateGradients(ph, "v").get("v");
      assertThat(gQ.equalsWithEps(gRef, 1e-3)).as("dL/dv, run %d: %s vs %s", rep, gQ, gRef).isTrue();
    }
    List<String> gradOps = Arrays.stream(sd.getFunction("grad").ops()).map(op -> op.opName()).toList();
    assertThat(gradOps).contains(QuantizedLinearOp.OP_NAME).doesNotContain("matmul", "matmul_bp");
  }

  /**
   * Split over two threads (as in a replayed step) the product and the input gradient give the
   * same bits every time and equal the one-thread results to float rounding (1e-5 absolute on
   * entries of order 1; the input gradient's parts are summed in another order).
   */
  @Test
  void splitOverTwoThreadsMatchesOneThread() {
    int n = 64;
    int in = 64;
    int out = 1000; // four chunks of 256 rows: two parts
    QuantizedWeight q = QuantizedWeight.quantize(gaussian(out, in, 5, 0.1), QuantFormat.NF4, 64, true);
    SameDiff sd = Graphs.newSameDiff();
    SDVariable x = sd.placeHolder("x", DataType.FLOAT, -1, in);
    SDVariable v = sd.var("v", gaussian(1, in, 6, 1));
    SDVariable y = QuantizedLinearOp.apply(sd, x.mul(v), q);
    sd.setLossVariables(y.mul(sd.constant(gaussian(n, out, 7, 1))).sum().name());
    Graphs.createGradFunction(sd, List.of());
    Map<String, INDArray> ph = Map.of("x", gaussian(n, in, 8, 1));
    INDArray y1 = sd.output(ph, y.name()).get(y.name());
    INDArray g1 = sd.calculateGradients(ph, "v").get("v");
    try {
      dev.loraj.core.engine.Threads.configure(2);
      INDArray[] first = null;
      for (int rep = 0; rep < 2; rep++) {
        INDArray y2;
        INDArray g2;
        try (var blas = dev.loraj.core.engine.Threads.callerBlas()) {
          y2 = sd.output(ph, y.name()).get(y.name());
          g2 = sd.calculateGradients(ph, "v").get("v");
        }
        assertThat(y2.equalsWithEps(y1, 1e-5)).as("forward").isTrue();
        assertThat(g2.equalsWithEps(g1, 1e-5 * Math.max(1, g1.amaxNumber().doubleValue())))
            .as("dL/dv").isTrue();
        if (first == null) {
          first = new INDArray[] {y2, g2};
        } else {
          dev.loraj.core.testing.ExactArrays.assertBitIdentical(y2, first[0], "forward, twice");
          dev.loraj.core.testing.ExactArrays.assertBitIdentical(g2, first[1], "dL/dv, twice");
        }
      }
      // the worker that ran the second part dequantized into a buffer of its own: the ledger
      // counts it beside the caller's, and releasing frees both
      dev.loraj.core.engine.MemoryLedger ledger = new dev.loraj.core.engine.MemoryLedger();
      QuantizedLinearOp.addBuffersTo(ledger);
      long oneBuffer = 4L * 256 * in;
      assertThat(ledger.bytes(dev.loraj.core.engine.MemoryLedger.Category.ACTIVATIONS))
          .as("dequantization buffers of both threads").isGreaterThanOrEqualTo(2 * oneBuffer);
      QuantizedLinearOp.releaseBuffers();
      dev.loraj.core.engine.MemoryLedger after = new dev.loraj.core.engine.MemoryLedger();
      QuantizedLinearOp.addBuffersTo(after);
      assertThat(after.bytes(dev.loraj.core.engine.MemoryLedger.Category.ACTIVATIONS)).isZero();
    } finally {
      dev.loraj.core.engine.Threads.configure(1);
    }
  }
}
