package dev.loraj.variants.svd;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonValue;
import dev.loraj.core.adapter.SiteInit;
import dev.loraj.core.linalg.LinAlg;
import dev.loraj.core.linalg.Svd;
import dev.loraj.core.linalg.SvdResult;
import dev.loraj.core.lora.LoraInit;
import java.util.Locale;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * CorDA's context-oriented init (Yang et al., arXiv 2406.05223, Sec. 3; PEFT
 * {@code lora/corda.py}): the SVD of the weight multiplied by the input covariance of the layer
 * on calibration data, so the kept directions are the ones the task's inputs excite.
 *
 * <pre>
 *   C  = mean x^T x over calibration rows            [in, in]  (PeftModel.calibrate)
 *   C' = C + d mean(diag C) I,  d = 0.01, doubled until ||C' C'^-1 - I||_F < 0.05
 *   U S Vh = svd(W C')                               [out, in] x [in, in]
 *   V^T = Vh C'^-1                                   so U S V^T = W exactly
 *   keep r triplets: IPM = the largest, KPM = the smallest
 *   S_r /= s;  A = diag(sqrt(S_r)) V^T_r [r, in];  B = U_r diag(sqrt(S_r)) [out, r]
 *   W_res = W - s B A
 * </pre>
 *
 * <p>Instruction-previewed mode (IPM) adapts the directions most used by the calibration task;
 * knowledge-preserved mode (KPM) adapts the least used ones and leaves the rest (world knowledge
 * probed by the calibration questions) in the frozen residual.
 *
 * <p>The covariance comes from {@link SiteInit#inputCovariance()}; without it the init fails
 * (there is no data-free CorDA). Unlike PEFT, whose hook divides each forward call's input by
 * {@code |max(x)|} and averages the sums {@code x^T x} over calls, the covariance here is the
 * plain mean over rows. A constant factor c on C leaves {@code s B A} and W_res unchanged and
 * only rebalances the factors ({@code A / sqrt(c)}, {@code B sqrt(c)}).
 */
public final class CordaInit implements LoraInit {

  /** Which end of the spectrum of {@code W C'} the adapter takes. */
  public enum Mode {
    /** Instruction-previewed: the r largest triplets. */
    IPM,
    /** Knowledge-preserved: the r smallest triplets. */
    KPM;

    @JsonValue
    public String json() {
      return name().toLowerCase(Locale.ROOT);
    }

    @JsonCreator
    public static Mode parse(String s) {
      for (Mode m : values()) {
        if (m.json().equalsIgnoreCase(s)) {
          return m;
        }
      }
      throw new IllegalArgumentException("method = '" + s + "': accepted ipm, kpm");
    }
  }

  /** PEFT's starting damping factor and its target for the inversion error. */
  static final double FIRST_DAMP = 0.01;
  static final double MAX_INVERSE_ERROR = 0.05;
  /** Stop doubling after this many tries (d would be 0.01 * 2^40): the covariance is broken. */
  private static final int MAX_DOUBLINGS = 40;

  /** The damped covariance, its inverse and the damping factor that was needed. */
  public record Damped(INDArray covariance, INDArray inverse, double damp) {}

  private final Mode mode;

  public CordaInit(Mode mode) {
    this.mode = mode;
  }

  public Mode mode() {
    return mode;
  }

  @Override
  public void initialize(INDArray a, INDArray b, double scaling, SiteInit site) {
    INDArray c = site.inputCovariance().orElseThrow(() -> new IllegalStateException(
        "CorDA at '" + site.site().path() + "' needs the input covariance of calibration data:"
            + " call PeftModel.calibrate(batches) before addAdapter"));
    INDArray w = site.baseWeight(); // [out, in]
    long in = w.size(1);
    if (c.rank() != 2 || c.size(0) != in || c.size(1) != in) {
      throw new IllegalArgumentException(
          "input covariance of '" + site.site().path() + "' must be [" + in + ", " + in + "], got "
              + java.util.Arrays.toString(c.shape()));
    }
    Damped d = damp(c.castTo(DataType.FLOAT));
    SvdResult full = Svd.exact(w.mmul(d.covariance())); // [out, in] x [in, in]
    SvdResult oriented = new SvdResult(full.u(), full.s(), full.vt().mmul(d.inverse())); // [k, in] x [in, in]
    int r = (int) a.size(0);
    SvdResult kept = SvdInit.slice(oriented, r,
        mode == Mode.IPM ? SvdInit.Slice.PRINCIPAL : SvdInit.Slice.MINOR);
    SvdInit.setFactors(a, b, kept, scaling);
    site.rewriteBase(SvdInit.residual(w, a, b, scaling));
  }

  /**
   * {@code C' = C + d mean(diag C) I} with the smallest {@code d = 0.01 * 2^k} for which the
   * float inverse satisfies {@code ||C' C'^-1 - I||_F < 0.05} (PEFT's loop).
   *
   * @throws IllegalArgumentException if C is not finite or its diagonal mean is not positive
   */
  public static Damped damp(INDArray c) {
    long n = c.size(0);
    double trace = 0;
    for (long i = 0; i < n; i++) {
      trace += c.getDouble(i, i);
    }
    double meanDiag = trace / n;
    if (!(meanDiag > 0) || Double.isInfinite(meanDiag)) {
      throw new IllegalArgumentException(
          "input covariance has mean diagonal " + meanDiag + ": must be finite and > 0"
              + " (did the calibration batches reach this layer with non-zero inputs?)");
    }
    INDArray eye = Nd4j.eye(n).castTo(DataType.FLOAT);
    double d = FIRST_DAMP;
    for (int i = 0; i <= MAX_DOUBLINGS; i++, d *= 2) {
      INDArray damped = c.add(eye.mul(d * meanDiag)); // [in, in]
      INDArray inverse = LinAlg.inverse(damped);
      double error = damped.mmul(inverse).subi(eye).norm2Number().doubleValue();
      if (error < MAX_INVERSE_ERROR) {
        return new Damped(damped, inverse, d);
      }
    }
    throw new IllegalArgumentException(
        "input covariance could not be damped to an accurate inverse (d up to " + d / 2 + ")");
  }
}
