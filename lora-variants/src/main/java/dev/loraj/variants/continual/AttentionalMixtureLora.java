package dev.loraj.variants.continual;

import dev.loraj.core.adapter.Adapter;
import dev.loraj.core.adapter.AdapterConfig;
import dev.loraj.core.adapter.AdapterFactory;
import dev.loraj.core.adapter.AdapterGraph;
import dev.loraj.core.adapter.SiteInit;
import dev.loraj.core.checkpoint.NoPeftForm;
import dev.loraj.core.lora.LoraAdapter;
import dev.loraj.core.lora.LoraConfig;
import dev.loraj.core.lora.LoraInit;
import dev.loraj.core.model.LinearSite;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * AM-LoRA, attentional mixture of LoRAs for continual learning (Liu et al. 2024,
 * arXiv 2409.19611): task t trains a new LoRA; the LoRAs of earlier tasks are frozen; at every
 * adapted site an attention module weights the outputs of all T = t LoRAs, and an L1 term makes
 * the attention vector sparse.
 *
 * <p>What this class follows from the paper (abstract and method summary): a sequence of task
 * LoRAs, earlier ones frozen; a per-site attention over the LoRA <em>outputs</em> that mixes
 * them; an L1 penalty on the attention vector; inference with no task id. What it chooses
 * itself (the paper's exact attention equations were not available here):
 * <pre>
 *   o_i   = s_i B_i A_i x                              [n, out], i = 1..T (o_T trainable)
 *   e_i   = (o_i . q) / sqrt(out) + c_i               q [1, out], c [1, T] trainable, zero init
 *   g_i   = relu(1 + e_i)                             the attention vector (per example)
 *   y     = W x + sum_i g_i o_i
 *   L_l1  = l1 * mean_n sum_i g_i                      (g >= 0, so |g| = g)
 * </pre>
 * The gates are rectified rather than a softmax because the L1 norm of a softmax vector is
 * identically 1 (no sparsifying gradient); starting at g = 1 makes the model at init equal to
 * the plain sum of LoRAs (O-LoRA's inference), so nothing is lost before training.
 *
 * <p>With no earlier adapter there is nothing to mix: the adapter is plain LoRA (mergeable).
 * With earlier adapters the update is input-dependent and {@link Adapter#deltaWeight()} refuses.
 * Earlier LoRAs come from {@code previous_adapters} through {@link SiteInit#otherAdapter}: each
 * must be a {@link LoraAdapter} (of an AM-LoRA adapter only its own, task-specific LoRA is taken),
 * copied into frozen buffers. The caller keeps only the newest AM-LoRA adapter active.
 */
public final class AttentionalMixtureLora implements AdapterFactory<AttentionalMixtureLora.Config>, NoPeftForm {

  @Override
  public String noPeftFormReason() {
    return "AM-LoRA's output is a learned, input-dependent mixture over several tasks'"
        + " LoRAs, which PEFT has no type for";
  }

  public static final String QUERY = "am_query";
  public static final String BIAS = "am_bias";

  /**
   * @param rank r of each task LoRA
   * @param alpha scaling numerator
   * @param dropout on the new LoRA's input
   * @param l1 weight of the L1 sparsity term on the attention vector
   * @param previousAdapters the earlier tasks' adapters in the same model, oldest first
   */
  public record Config(int rank, double alpha, double dropout, double l1, List<String> previousAdapters)
      implements AdapterConfig {

    public Config {
      LoraConfig.checkRankAlpha(rank, alpha);
      if (!(dropout >= 0 && dropout < 1)) {
        throw new IllegalArgumentException("dropout = " + dropout + ": must be in [0, 1)");
      }
      if (!(l1 >= 0) || Double.isInfinite(l1)) {
        throw new IllegalArgumentException("l1 = " + l1 + ": must be a finite number >= 0");
      }
      previousAdapters = previousAdapters == null ? List.of() : List.copyOf(previousAdapters);
    }

    /** r = 8, alpha = 32 as O-LoRA's scripts (same benchmark); l1 = 0.01, our choice. */
    public static Config defaults() {
      return new Config(8, 32, 0.0, 0.01, List.of());
    }

    @Override
    public Config withRankAndAlpha(int rank, double alpha) {
      return new Config(rank, alpha, dropout, l1, previousAdapters);
    }

    public Config withPrevious(List<String> names) {
      return new Config(rank, alpha, dropout, l1, names);
    }

    public double scaling() {
      return alpha / rank;
    }
  }

  @Override
  public String name() {
    return "am-lora";
  }

  @Override
  public String description() {
    return "AM-LoRA: attention mixture over per-task LoRAs with L1 sparsity (arXiv 2409.19611)";
  }

  @Override
  public Class<Config> configType() {
    return Config.class;
  }

  @Override
  public Config defaultConfig() {
    return Config.defaults();
  }

  @Override
  public Adapter create(Config config, SiteInit init) {
    List<INDArray[]> previous = new ArrayList<>();
    List<Double> scalings = new ArrayList<>();
    for (String n : config.previousAdapters()) {
      Adapter other = init.otherAdapter(n).orElse(null);
      if (other == null) {
        continue;
      }
      if (!(other instanceof LoraAdapter la)) {
        throw new IllegalArgumentException("previous_adapters: adapter '" + n + "' at '"
            + init.site().path() + "' is a " + other.getClass().getSimpleName()
            + ", accepted adapters with LoRA's A and B (lora, o-lora, am-lora)");
      }
      previous.add(new INDArray[] {la.a().dup(), la.b().dup()});
      scalings.add(la.scaling());
    }
    MixtureAdapter adapter = new MixtureAdapter(init.site(), config, previous, scalings);
    LoraInit.KAIMING.initialize(adapter.a(), adapter.b(), adapter.scaling(), init);
    return adapter;
  }

  @Override
  public long trainableParameters(Config config, LinearSite site) {
    long lora = (long) config.rank() * (site.in() + site.out());
    int t = config.previousAdapters().size() + 1;
    return t == 1 ? lora : lora + site.out() + t;
  }

  /** The new task's LoRA, the frozen earlier LoRAs, and the attention gates. */
  public static final class MixtureAdapter extends LoraAdapter {
    private final Config am;
    private final List<INDArray[]> previous; // {A [r_i, in], B [out, r_i]}
    private final List<Double> scalings;
    private final INDArray query; // [1, out]
    private final INDArray bias; // [1, T]

    MixtureAdapter(LinearSite site, Config config, List<INDArray[]> previous, List<Double> scalings) {
      super(site, config, config.scaling(), config.dropout());
      this.am = config;
      this.previous = List.copyOf(previous);
      this.scalings = List.copyOf(scalings);
      this.query = Nd4j.zeros(DataType.FLOAT, 1, site.out());
      this.bias = Nd4j.zeros(DataType.FLOAT, 1, previous.size() + 1);
    }

    public int loras() {
      return previous.size() + 1;
    }

    @Override
    public Map<String, INDArray> parameters() {
      Map<String, INDArray> p = super.parameters();
      if (!previous.isEmpty()) {
        p.put(QUERY, query);
        p.put(BIAS, bias);
      }
      return p;
    }

    @Override
    public Map<String, INDArray> buffers() {
      Map<String, INDArray> m = new LinkedHashMap<>();
      for (int i = 0; i < previous.size(); i++) {
        m.put("am_previous." + i + ".lora_A.weight", previous.get(i)[0]);
        m.put("am_previous." + i + ".lora_B.weight", previous.get(i)[1]);
      }
      return m;
    }

    @Override
    public SDVariable forward(AdapterGraph g, SDVariable x, SDVariable baseOut) {
      SDVariable own = branch(g, x, g.param(A), g.param(B));
      if (previous.isEmpty()) {
        return own;
      }
      List<SDVariable> outs = new ArrayList<>();
      for (int i = 0; i < previous.size(); i++) {
        SDVariable h = g.sd().mmul(x, g.buffer("am_previous." + i + ".lora_A.weight"), false, true, false); // [n, in] x [in, r]
        SDVariable o = g.sd().mmul(h, g.buffer("am_previous." + i + ".lora_B.weight"), false, true, false); // [n, r] x [r, out]
        outs.add(o.mul(scalings.get(i)));
      }
      outs.add(own);
      SDVariable gates = gates(g, outs); // [n, T]
      lastGates = g.training() ? gates : null;
      SDVariable sum = null;
      for (int i = 0; i < outs.size(); i++) {
        SDVariable gi = gates.get(org.nd4j.autodiff.samediff.SDIndex.all(),
            org.nd4j.autodiff.samediff.SDIndex.interval(i, i + 1)); // [n, 1]
        SDVariable c = outs.get(i).mul(gi);
        sum = sum == null ? c : sum.add(c);
      }
      return sum;
    }

    /** g = relu(1 + (o_i . q) / sqrt(out) + c_i), [n, T]. */
    private SDVariable gates(AdapterGraph g, List<SDVariable> outs) {
      SDVariable q = g.param(QUERY); // [1, out]
      List<SDVariable> scores = new ArrayList<>();
      for (SDVariable o : outs) {
        scores.add(g.sd().mmul(o, q, false, true, false)); // [n, out] x [out, 1]
      }
      SDVariable e = g.sd().concat(1, scores.toArray(SDVariable[]::new)).mul(1.0 / Math.sqrt(site.out()));
      return g.sd().nn().relu(e.add(g.param(BIAS)).add(1.0), 0);
    }

    /**
     * The L1 term on the gates of the training graph just built: the gates depend on the site's
     * input, which this hook does not see, so {@link #forward} hands over the gate variable of
     * the graph it built last (PeftModel calls forward, then regularization, for each site).
     */
    @Override
    public SDVariable regularization(AdapterGraph g) {
      SDVariable gates = lastGates;
      lastGates = null;
      if (gates == null || am.l1() == 0) {
        return null;
      }
      return gates.sum(1).mean().mul(am.l1());
    }

    private SDVariable lastGates;

    @Override
    public java.util.Optional<String> stateBeyondLowRank() {
      return previous.isEmpty() ? java.util.Optional.empty()
          : java.util.Optional.of("its input-dependent attention gates ('" + QUERY + "', '" + BIAS + "') mix it with "
              + previous.size() + " earlier LoRA(s)");
    }

    @Override
    public INDArray deltaWeight() {
      if (!previous.isEmpty()) {
        throw new UnsupportedOperationException("AM-LoRA at '" + site.path() + "' mixes "
            + loras() + " LoRAs with input-dependent gates: there is no single delta weight to merge");
      }
      return super.deltaWeight();
    }
  }
}
