package dev.loraj.core.graph;

import static org.assertj.core.api.Assertions.assertThat;

import dev.loraj.core.engine.Threads;
import dev.loraj.core.testing.ExactArrays;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.impl.reduce.Mmul;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.ops.transforms.Transforms;

/**
 * SplitGemm: a product split over two threads gives the same bits every time and equals
 * libnd4j's unsplit matmul on one thread to float rounding (1e-5 absolute on entries of order 1:
 * OpenBLAS picks its kernels by size, so a part may sum in another order than the whole), for
 * every layout and transpose of its operands and for splits by rows and by columns; it declines
 * when it should.
 */
class SplitGemmTest {

  @AfterEach
  void restore() {
    Threads.configure(1);
  }

  private static SplitGemm gemm(boolean ta, boolean tb) {
    SameDiff sd = SameDiff.create();
    SDVariable a = sd.var("a", DataType.FLOAT, 2, 2);
    SDVariable b = sd.var("b", DataType.FLOAT, 2, 2);
    Mmul op = new Mmul(sd, a, b, ta, tb, false);
    SplitGemm g = SplitGemm.of(op, op.iArgs(), op.tArgs());
    assertThat(g).as("split form of " + java.util.Arrays.toString(op.iArgs()) + " "
        + java.util.Arrays.toString(op.tArgs())).isNotNull();
    return g;
  }

  @Test
  void splitProductsEqualTheUnsplitOnesForEveryLayout() {
    Threads.configure(2);
    long[][] shapes = {{512, 256, 96}, {96, 256, 512}, {1000, 130, 40}};
    for (long[] s : shapes) {
      long m = s[0];
      long k = s[1];
      long n = s[2];
      for (boolean ta : new boolean[] {false, true}) {
        for (boolean tb : new boolean[] {false, true}) {
          INDArray a = Nd4j.rand(DataType.FLOAT, ta ? new long[] {k, m} : new long[] {m, k}).subi(0.5);
          INDArray b = Nd4j.rand(DataType.FLOAT, tb ? new long[] {n, k} : new long[] {k, n}).subi(0.5);
          INDArray expected;
          try (Threads.Scope blas = Threads.callerBlas()) {
            expected = Nd4j.matmul(a, b, ta, tb, false); // one sgemm on one thread
          }
          for (char oa : new char[] {'c', 'f'}) {
            for (char ob : new char[] {'c', 'f'}) {
              INDArray c = Nd4j.createUninitialized(DataType.FLOAT, m, n);
              boolean ran;
              try (Threads.Scope blas = Threads.callerBlas()) {
                ran = gemm(ta, tb).run(a.dup(oa), b.dup(ob), c);
              }
              assertThat(ran).isTrue();
              String what = "m,k,n " + m + "," + k + "," + n + " ta " + ta + " tb " + tb + " " + oa + ob;
              assertThat(Transforms.abs(c.sub(expected)).maxNumber().doubleValue()).as(what)
                  .isLessThan(1e-5);
              INDArray again = Nd4j.createUninitialized(DataType.FLOAT, m, n);
              try (Threads.Scope blas = Threads.callerBlas()) {
                gemm(ta, tb).run(a.dup(oa), b.dup(ob), again);
              }
              ExactArrays.assertBitIdentical(again, c, what + ", twice");
            }
          }
        }
      }
    }
  }

  @Test
  void declinesOnOneThreadOutsideCallerBlasOrForSmallProducts() {
    INDArray a = Nd4j.rand(DataType.FLOAT, 512, 256);
    INDArray b = Nd4j.rand(DataType.FLOAT, 256, 96);
    INDArray c = Nd4j.createUninitialized(DataType.FLOAT, 512, 96);
    Threads.configure(1);
    try (Threads.Scope blas = Threads.callerBlas()) {
      assertThat(gemm(false, false).run(a, b, c)).as("one thread").isFalse();
    }
    Threads.configure(2);
    assertThat(gemm(false, false).run(a, b, c)).as("OpenBLAS on its own threads").isFalse();
    try (Threads.Scope blas = Threads.callerBlas()) {
      assertThat(Threads.blasOnCallers()).isTrue();
      INDArray small = Nd4j.rand(DataType.FLOAT, 16, 256);
      assertThat(gemm(false, false).run(small, b, Nd4j.create(DataType.FLOAT, 16, 96)))
          .as("below two parts' work").isFalse();
      INDArray f = c.dup('f');
      assertThat(gemm(false, false).run(a, b, f)).as("f-order result").isFalse();
      assertThat(gemm(false, false).run(a.castTo(DataType.DOUBLE), b.castTo(DataType.DOUBLE),
          c.castTo(DataType.DOUBLE))).as("double").isFalse();
    }
    assertThat(Threads.blasOnCallers()).isFalse();
  }
}
