package dev.loraj.core.model;

import dev.loraj.core.adapter.Adapter;
import dev.loraj.core.adapter.AdapterGraph;
import dev.loraj.core.graph.Graphs;
import dev.loraj.core.model.PeftModel.Built;
import dev.loraj.core.model.PeftModel.NamedAdapter;
import dev.loraj.core.model.PeftModel.TrainableVar;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.BiConsumer;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Assembles a {@link PeftModel}'s forward graph from its current state: the base family's graph
 * ({@link BaseModel#build}) with every unmerged adapter branch added at its sites, per-example
 * masks for mixed batches, trainable base tensors as variables and the regularization terms.
 * Training, inference and calibration all build through it, so the wiring of adapters into a
 * graph exists once; each adapter reaches the graph only through the {@link AdapterGraph} view
 * defined here.
 */
final class ForwardGraph {

  private final PeftModel model;

  ForwardGraph(PeftModel model) {
    this.model = model;
  }

  /**
   * Builds the forward graph (see {@link PeftModel#build(boolean, List)}).
   *
   * @param siteInputs if not null, sees every site's input as the graph is built
   */
  Built build(boolean training, List<String> mixed, BiConsumer<LinearSite, SDVariable> siteInputs) {
    BaseModel base = model.base();
    SameDiff sd = Graphs.newSameDiff();
    List<TrainableVar> trainable = new ArrayList<>();
    Map<String, SDVariable> masks = new LinkedHashMap<>();
    List<SDVariable> regs = new ArrayList<>();
    List<String> branchNames;
    if (mixed != null) {
      branchNames = new ArrayList<>(new LinkedHashSet<>(mixed));
      branchNames.remove(PeftModel.BASE);
      branchNames.forEach(model::adapter);
    } else {
      branchNames = model.adaptersDisabled() ? List.of()
          : model.active().stream().filter(n -> !model.adapter(n).merged()).toList();
    }
    Map<String, SDVariable> adapterVars = new HashMap<>();
    Map<INDArray, SDVariable> byArray = new IdentityHashMap<>(); // parameters shared by sites
    ModelGraph.SiteHook hook = (g, site, x, baseOut) -> {
      if (siteInputs != null && !site.embedding()) { // an embedding's input is token ids
        siteInputs.accept(site, x);
      }
      SDVariable sum = null;
      for (String an : branchNames) {
        Adapter ad = model.adapter(an).sites().get(site.path());
        if (ad == null) {
          continue;
        }
        GraphView view = new GraphView(g, an, ad, adapterVars, byArray, trainable, training);
        // each adapter sees the output so far, as in PEFT (only DoRA reads it: several DoRA
        // adapters on one site rescale in turn, which is what merging them one by one gives)
        SDVariable c = ad.forward(view, x, sum == null ? baseOut : baseOut.add(sum));
        if (mixed != null) {
          SDVariable mask = masks.computeIfAbsent(an,
              k -> sd.placeHolder("mask/" + k, DataType.FLOAT, -1, 1));
          c = c.mul(mask);
        }
        if (training) {
          SDVariable r = ad.regularization(view);
          if (r != null) {
            regs.add(r);
          }
        }
        sum = sum == null ? c : sum.add(c);
      }
      return sum == null ? baseOut : baseOut.add(sum);
    };
    Map<String, INDArray> modules;
    if (mixed == null) {
      modules = model.modulesInUse();
    } else {
      modules = Map.of();
      for (String an : branchNames) {
        NamedAdapter na = model.adapter(an);
        if (!na.modulesToSave().isEmpty()) {
          throw new IllegalArgumentException("mixed-batch inference through adapter '" + an + "' is not"
              + " supported: it holds modules_to_save copies " + na.modulesToSave().keySet()
              + ", which replace whole modules; run its rows with setActive instead");
        }
      }
    }
    Set<String> trainableNames = new LinkedHashSet<>(model.trainableBase);
    trainableNames.addAll(modules.keySet());
    ModelGraph mg = new ModelGraph(sd, base, trainableNames, training, hook, model.baseLinear(), modules);
    ModelOutput out = base.build(mg);
    for (String w : trainableNames) {
      if (sd.hasVariable(w)) {
        trainable.add(new TrainableVar(w, modules.getOrDefault(w, base.weights().get(w)), null, null, w, 1.0));
      }
    }
    SDVariable reg = null;
    for (SDVariable r : regs) {
      reg = reg == null ? r : reg.add(r);
    }
    return new Built(sd, out.output(), out.inputs(), trainable,
        masks.keySet().stream().map(k -> "mask/" + k).toList(), reg, mg.blocks(), out.head());
  }

  /** One adapter's view of the graph at one site: its parameters, buffers and base tensors. */
  private static final class GraphView implements AdapterGraph {
    private final ModelGraph g;
    private final String adapterName;
    private final Adapter adapter;
    private final Map<String, SDVariable> vars;
    private final Map<INDArray, SDVariable> byArray;
    private final List<TrainableVar> trainable;
    private final boolean training;

    GraphView(ModelGraph g, String adapterName, Adapter adapter, Map<String, SDVariable> vars,
        Map<INDArray, SDVariable> byArray, List<TrainableVar> trainable, boolean training) {
      this.g = g;
      this.adapterName = adapterName;
      this.adapter = adapter;
      this.vars = vars;
      this.byArray = byArray;
      this.trainable = trainable;
      this.training = training;
    }

    @Override
    public SameDiff sd() {
      return g.sd();
    }

    /**
     * The graph variable of a parameter. An array that several sites return (the same object,
     * e.g. the random-subspace method's theta_d) becomes one variable, created at the first site
     * that asks: its gradient sums over the sites and the optimizer updates it once per step.
     */
    @Override
    public SDVariable param(String key) {
      String var = name(key);
      SDVariable v = vars.get(var);
      if (v == null) {
        INDArray arr = adapter.parameters().get(key);
        if (arr == null) {
          throw new IllegalArgumentException(
              "adapter at " + adapter.site().path() + " has no parameter '" + key + "'");
        }
        SDVariable shared = byArray.get(arr);
        if (shared != null) {
          vars.put(var, shared);
          return shared;
        }
        v = g.sd().var(var, arr);
        byArray.put(arr, v);
        vars.put(var, v);
        trainable.add(new TrainableVar(var, arr, adapterName, adapter.site().path(), key,
            adapter.learningRateMultipliers().getOrDefault(key, 1.0)));
      }
      return v;
    }

    @Override
    public SDVariable buffer(String key) {
      String var = name(key);
      SDVariable v = vars.get(var);
      if (v == null) {
        INDArray arr = adapter.buffers().get(key);
        if (arr == null) {
          throw new IllegalArgumentException(
              "adapter at " + adapter.site().path() + " has no buffer '" + key + "'");
        }
        v = g.sd().constant(var, arr);
        vars.put(var, v);
      }
      return v;
    }

    @Override
    public SDVariable constant(String key, INDArray value) {
      return g.sd().constant(name(key), value);
    }

    @Override
    public SDVariable baseWeight() {
      return g.weight(adapter.site().weightName());
    }

    @Override
    public SDVariable baseBias() {
      return adapter.site().hasBias() ? g.weight(adapter.site().biasName()) : null;
    }

    @Override
    public boolean training() {
      return training;
    }

    @Override
    public String name(String suffix) {
      return adapterName + "/" + adapter.site().path() + "/" + suffix;
    }
  }
}
