package dev.loraj.core.quant;

import dev.loraj.core.graph.FrozenMatMul;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.factory.Nd4j;

/**
 * The quantized linear {@code y = x deq(W)^T} from ND4J's own ops, for the portable engine
 * ({@code dev.loraj.core.engine.Engine}): the packed codes enter the graph as an int8 constant and
 * are unpacked, looked up in the format's table and scaled by the block absmax by graph ops at
 * every run; the dense product is libnd4j's {@code matmul} ({@link FrozenMatMul}: no gradient for
 * W, which comes from constants only and is on no path from a trainable variable).
 *
 * <p>Values: each element is {@code table[code] * absmax_b} in float, the same single rounding as
 * {@link QuantizedWeight#dequantize()}, so deq(W) is bit-identical; the products differ from the
 * optimized engine's chunked gemm by summation order only. The per-block absmax of a double
 * quantized weight is reconstructed once, on the host, when the graph is built (fp32 per block,
 * 0.5 bit per parameter at block 64, against 0.127 for the 8-bit codes it comes from); the
 * codes themselves stay packed in the graph.
 *
 * <p>Cost: the float weight exists for the duration of each product, once forward and once
 * backward, and the table lookup is a {@code gather} of one index per element: slow on ND4J's
 * CPU backend (a kernel call per index), a plain indexed load on a GPU.
 */
public final class DequantOps {
  private DequantOps() {}

  /** {@code x deq(W)^T}: x [n, in] -> [n, out]. */
  public static SDVariable linear(SameDiff sd, SDVariable x, QuantizedWeight w) {
    return FrozenMatMul.apply(sd, x, dequantize(sd, w), true);
  }

  /** deq(W) [out, in] (float32) as graph ops on constants. */
  public static SDVariable dequantize(SameDiff sd, QuantizedWeight w) {
    if (!w.format().blockwise()) {
      // a 16-bit weight widened on the host: widening is exact, so ops would add nothing
      return sd.constant(w.dequantize());
    }
    long n = (long) w.rows() * w.cols();
    int bs = w.blockSize();
    int blocks = w.blockCount();
    long padded = (long) blocks * bs; // whole blocks: the absmax multiplies [blocks, bs]
    byte[] packed = w.codes();
    SDVariable codes = unsignedBytes(sd, sd.constant(Nd4j.createFromArray(packed))); // float 0..255
    SDVariable index;
    long length;
    if (w.format().bits() == 4) {
      // two codes per byte, the lower flat index in the high nibble
      SDVariable hi = sd.math().floor(codes.div(16.0));
      SDVariable lo = codes.sub(hi.mul(16.0));
      index = sd.reshape(sd.stack(1, hi, lo), -1);
      length = 2L * packed.length;
    } else {
      index = codes;
      length = n;
    }
    index = fitLength(sd, index, length, padded);
    float[] table = w.format().levels();
    SDVariable levels = sd.constant(Nd4j.create(table, new long[] {1, table.length}, 'c'));
    // gather along the last axis of a [1, levels] table: a cheaper loop on the CPU than axis 0
    SDVariable values = sd.gather(levels, sd.castTo(index, DataType.INT32), 1); // [1, padded]
    float[] absmax = new float[blocks];
    for (int b = 0; b < blocks; b++) {
      absmax[b] = w.blockAbsmax(b);
    }
    SDVariable scales = sd.constant(Nd4j.create(absmax, new long[] {blocks, 1}, 'c'));
    SDVariable scaled = sd.reshape(sd.reshape(values, blocks, bs).mul(scales), -1); // [padded]
    if (padded > n) {
      scaled = sd.slice(scaled, new int[] {0}, Math.toIntExact(n));
    }
    return sd.reshape(scaled, w.rows(), w.cols());
  }

  /** int8 values as their unsigned byte 0..255, in float (exact). */
  private static SDVariable unsignedBytes(SameDiff sd, SDVariable int8) {
    SDVariable f = sd.castTo(int8, DataType.FLOAT).add(256.0); // 128..383
    return f.sub(sd.math().floor(f.div(256.0)).mul(256.0));
  }

  /** The first {@code padded} entries of a stream of {@code length}, zero-padded if shorter. */
  private static SDVariable fitLength(SameDiff sd, SDVariable v, long length, long padded) {
    if (length > padded) {
      return sd.slice(v, new int[] {0}, Math.toIntExact(padded));
    }
    if (length < padded) {
      return sd.concat(0, v, sd.constant(Nd4j.zeros(DataType.FLOAT, padded - length)));
    }
    return v;
  }
}
