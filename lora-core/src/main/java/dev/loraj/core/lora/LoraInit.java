package dev.loraj.core.lora;

import dev.loraj.core.adapter.SiteInit;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * How a LoRA-shaped adapter's A [r, in] and B [out, r] start. Init strategies are objects:
 * PiSSA/MiLoRA (an SVD slice), OLoRA (QR), CorDA and LoftQ implement this, and may rewrite the
 * base through {@link SiteInit#rewriteBase(INDArray)}.
 */
@FunctionalInterface
public interface LoraInit {

  /** Fills {@code a} and {@code b} in place. */
  void initialize(INDArray a, INDArray b, double scaling, SiteInit site);

  /** PEFT's default: A kaiming-uniform (a = sqrt 5), i.e. U(-1/sqrt(in), 1/sqrt(in)); B = 0. */
  LoraInit KAIMING = (a, b, s, site) -> {
    double bound = 1.0 / Math.sqrt(a.size(1));
    Fill.uniform(a, -bound, bound, site.random());
    b.assign(0);
  };

  /** PEFT's "gaussian": A ~ N(0, (1/r)^2), B = 0. */
  LoraInit GAUSSIAN = (a, b, s, site) -> {
    Fill.normal(a, 0, 1.0 / a.size(0), site.random());
    b.assign(0);
  };
}
