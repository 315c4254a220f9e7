package dev.loraj.core.lora;

import java.util.SplittableRandom;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/** Random fills from an explicit stream (never ND4J's global RNG), so a seed fixes every number. */
public final class Fill {
  private Fill() {}

  public static void uniform(INDArray target, double lo, double hi, SplittableRandom rnd) {
    float[] v = new float[(int) target.length()];
    for (int i = 0; i < v.length; i++) {
      v[i] = (float) (lo + (hi - lo) * rnd.nextDouble());
    }
    target.assign(Nd4j.create(v, target.shape(), 'c'));
  }

  public static void normal(INDArray target, double mean, double std, SplittableRandom rnd) {
    float[] v = new float[(int) target.length()];
    for (int i = 0; i < v.length; i++) {
      v[i] = (float) (mean + std * gaussian(rnd));
    }
    target.assign(Nd4j.create(v, target.shape(), 'c'));
  }

  public static INDArray normal(long[] shape, double std, SplittableRandom rnd) {
    INDArray a = Nd4j.create(DataType.FLOAT, shape);
    normal(a, 0, std, rnd);
    return a;
  }

  /** Box-Muller. */
  public static double gaussian(SplittableRandom rnd) {
    double u1 = rnd.nextDouble();
    double u2 = rnd.nextDouble();
    return Math.sqrt(-2 * Math.log(1 - u1)) * Math.cos(2 * Math.PI * u2);
  }
}
