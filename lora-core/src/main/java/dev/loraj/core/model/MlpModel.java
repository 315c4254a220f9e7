package dev.loraj.core.model;

import dev.loraj.core.lora.Fill;
import dev.loraj.core.quant.QuantizedWeight;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * A multi-layer perceptron, {@code x -> layers.0 -> act -> ... -> head}, for tests, benchmarks
 * and synthetic tasks. Input placeholder {@code x} [batch, widths[0]].
 */
public final class MlpModel implements BaseModel {

  /** The activation between hidden layers ({@code NONE}: a stack of linear maps). */
  public enum Activation { NONE, RELU, GELU, TANH }

  private final List<Integer> widths;
  private final Activation activation;
  private final boolean head;
  private final Map<String, INDArray> weights;
  private final Map<String, QuantizedWeight> quantized = new LinkedHashMap<>();
  private final List<LinearSite> sites;

  /**
   * @param widths layer widths, input first: {@code [in, hidden..., out]}
   * @param head whether the last linear is an output head (named {@code head}, excluded from
   *     all-linear) or a plain layer
   */
  public MlpModel(List<Integer> widths, Activation activation, boolean head, Map<String, INDArray> weights) {
    if (widths.size() < 2) {
      throw new IllegalArgumentException("an MLP needs at least an input and an output width: " + widths);
    }
    this.widths = List.copyOf(widths);
    this.activation = activation;
    this.head = head;
    this.weights = new LinkedHashMap<>(weights);
    List<LinearSite> s = new ArrayList<>();
    for (int i = 0; i + 1 < widths.size(); i++) {
      boolean isHead = head && i + 2 == widths.size();
      s.add(new LinearSite(name(i), widths.get(i), widths.get(i + 1), false, isHead, true));
    }
    this.sites = List.copyOf(s);
    for (LinearSite site : sites) {
      check(site.weightName(), site.out(), site.in());
      check(site.biasName(), site.out());
    }
  }

  /** Random init like torch's nn.Linear: U(-1/sqrt(in), 1/sqrt(in)) for weight and bias. */
  public static MlpModel random(List<Integer> widths, Activation activation, boolean head, long seed) {
    SplittableRandom rnd = new SplittableRandom(seed);
    Map<String, INDArray> w = new LinkedHashMap<>();
    for (int i = 0; i + 1 < widths.size(); i++) {
      String n = head && i + 2 == widths.size() ? "head" : "layers." + i;
      double bound = 1.0 / Math.sqrt(widths.get(i));
      INDArray wt = Nd4j.create(DataType.FLOAT, widths.get(i + 1), widths.get(i));
      Fill.uniform(wt, -bound, bound, rnd);
      INDArray b = Nd4j.create(DataType.FLOAT, widths.get(i + 1));
      Fill.uniform(b, -bound, bound, rnd);
      w.put(n + ".weight", wt);
      w.put(n + ".bias", b);
    }
    return new MlpModel(widths, activation, head, w);
  }

  private String name(int i) {
    return head && i + 2 == widths.size() ? "head" : "layers." + i;
  }

  private void check(String name, long... shape) {
    INDArray a = weights.get(name);
    if (a == null) {
      throw new IllegalArgumentException("MLP weights lack '" + name + "'");
    }
    if (!java.util.Arrays.equals(a.shape(), shape)) {
      throw new IllegalArgumentException("MLP weight '" + name + "' has shape "
          + java.util.Arrays.toString(a.shape()) + ", expected " + java.util.Arrays.toString(shape));
    }
  }

  @Override
  public String family() {
    return "mlp";
  }

  @Override
  public Map<String, INDArray> weights() {
    return weights;
  }

  @Override
  public Map<String, QuantizedWeight> quantizedWeights() {
    return quantized;
  }

  @Override
  public List<LinearSite> linearSites() {
    return sites;
  }

  public List<Integer> widths() {
    return widths;
  }

  @Override
  public ModelOutput build(ModelGraph g) {
    SDVariable x = g.placeholder("x", DataType.FLOAT, -1, widths.get(0));
    SDVariable h = x;
    for (int i = 0; i < sites.size(); i++) {
      h = g.linear(sites.get(i).path(), h);
      if (i + 1 < sites.size()) {
        h = switch (activation) {
          case NONE -> h;
          case RELU -> g.sd().nn().relu(h, 0);
          case GELU -> g.sd().nn().gelu(h);
          case TANH -> g.sd().math().tanh(h);
        };
      }
    }
    return new ModelOutput(h, List.of("x"));
  }

  @Override
  public MlpModel withWeights(Map<String, INDArray> w) {
    return new MlpModel(widths, activation, head, w);
  }
}
