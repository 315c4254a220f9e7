package dev.loraj.variants;

import dev.loraj.core.adapter.Adapter;
import dev.loraj.core.adapter.AdapterConfig;
import dev.loraj.core.adapter.AdapterRegistry;
import dev.loraj.core.adapter.AdapterSpec;
import dev.loraj.core.graph.Graphs;
import dev.loraj.core.lora.Fill;
import dev.loraj.core.model.BaseModel;
import dev.loraj.core.model.LinearSite;
import dev.loraj.core.model.MlpModel;
import dev.loraj.core.model.ModelGraph;
import dev.loraj.core.model.ModelOutput;
import dev.loraj.core.model.PeftModel;
import dev.loraj.core.model.Targets;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/** Small models and helpers shared by the variants' own tests. */
public final class Fixtures {
  private Fixtures() {}

  public static final AdapterRegistry REGISTRY = AdapterRegistry.discover();

  /** One linear layer {@code layers.0} (not a head, so all-linear selects it), no activation. */
  public static MlpModel oneLayer(float[][] weight, float[] bias) {
    int out = weight.length;
    int in = weight[0].length;
    Map<String, INDArray> w = new LinkedHashMap<>();
    w.put("layers.0.weight", Nd4j.createFromArray(weight));
    w.put("layers.0.bias", Nd4j.createFromArray(bias));
    return new MlpModel(List.of(in, out), MlpModel.Activation.NONE, false, w);
  }

  /** A random one-layer model [out, in] with bias. */
  public static MlpModel oneLayer(int in, int out, long seed) {
    SplittableRandom rnd = new SplittableRandom(seed);
    Map<String, INDArray> w = new LinkedHashMap<>();
    w.put("layers.0.weight", Fill.normal(new long[] {out, in}, 1.0, rnd));
    w.put("layers.0.bias", Fill.normal(new long[] {out}, 1.0, rnd));
    return new MlpModel(List.of(in, out), MlpModel.Activation.NONE, false, w);
  }

  public static PeftModel peft(BaseModel base, AdapterConfig config, long seed) {
    PeftModel pm = new PeftModel(base, REGISTRY);
    pm.addAdapter("default", new AdapterSpec(config, Targets.allLinear()), seed);
    return pm;
  }

  /** The adapter of the first adapted site. */
  @SuppressWarnings("unchecked")
  public static <T extends Adapter> T site(PeftModel pm, String adapter) {
    return (T) pm.adapter(adapter).sites().values().iterator().next();
  }

  public static Map<String, INDArray> x(float[][] rows) {
    return Map.of("x", Nd4j.createFromArray(rows));
  }

  public static Map<String, INDArray> randomX(int rows, int in, long seed) {
    return Map.of("x", Fill.normal(new long[] {rows, in}, 1.0, new SplittableRandom(seed)));
  }

  /**
   * Gradients of {@code sum(output)} with respect to the active adapters' parameters, by
   * parameter key (single-site models).
   */
  public static Map<String, INDArray> gradientsOfSum(PeftModel pm, Map<String, INDArray> inputs) {
    PeftModel.Built built = pm.build(true, null);
    SameDiff sd = built.sd();
    SDVariable loss = built.output().sum();
    sd.setLossVariables(loss.name());
    Graphs.createGradFunction(sd, List.of());
    List<String> names = built.trainable().stream().map(PeftModel.TrainableVar::varName).toList();
    Map<String, INDArray> byName = sd.calculateGradients(inputs, names);
    Map<String, INDArray> byKey = new HashMap<>();
    for (PeftModel.TrainableVar v : built.trainable()) {
      byKey.put(v.key(), byName.get(v.varName()));
    }
    return byKey;
  }

  public static double maxAbsDiff(INDArray a, INDArray b) {
    return a.castTo(DataType.DOUBLE).sub(b.castTo(DataType.DOUBLE)).amaxNumber().doubleValue();
  }

  /**
   * One GPT-2-style Conv1D layer {@code c}: weight stored [in, out] ({@code fan_in_fan_out}),
   * {@code y = x W + b}.
   */
  public record Conv1d(Map<String, INDArray> weights, int in, int out) implements BaseModel {

    /** From a torch-layout weight [out, in], stored transposed. */
    public static Conv1d ofTorchLayout(INDArray weightOutIn, INDArray bias) {
      Map<String, INDArray> w = new LinkedHashMap<>();
      w.put("c.weight", weightOutIn.transpose().dup('c'));
      w.put("c.bias", bias.dup());
      return new Conv1d(w, (int) weightOutIn.size(1), (int) weightOutIn.size(0));
    }

    @Override
    public String family() {
      return "conv1d";
    }

    @Override
    public List<LinearSite> linearSites() {
      return List.of(new LinearSite("c", in, out, true, false, true));
    }

    @Override
    public ModelOutput build(ModelGraph g) {
      SDVariable x = g.placeholder("x", DataType.FLOAT, -1, in);
      return new ModelOutput(g.linear("c", x), List.of("x"));
    }

    @Override
    public BaseModel withWeights(Map<String, INDArray> w) {
      return new Conv1d(new LinkedHashMap<>(w), in, out);
    }
  }
}
