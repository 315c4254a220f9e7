package dev.loraj.bench.memory;

import dev.loraj.bench.sweep.SweepConfig;
import dev.loraj.bench.sweep.SweepPlan;
import dev.loraj.bench.sweep.TrialSpec;
import dev.loraj.core.adapter.AdapterRegistry;
import dev.loraj.core.adapter.AdapterSpec;
import dev.loraj.core.engine.MemoryMonitor;
import dev.loraj.core.model.BaseModel;
import dev.loraj.core.model.PeftModel;
import dev.loraj.core.train.Trainer;
import dev.loraj.eval.task.Task;
import dev.loraj.eval.task.Tasks;
import java.lang.reflect.Array;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataBuffer;

/**
 * Diagnostic (a main, not a test): runs MiniLM training steps as the sweep harness does and prints
 * live native bytes before and after a full collection per step, and which objects keep native
 * buffers reachable (a reference walk from the trainer's session, the task and ND4J's singletons,
 * summing unique native allocations by the path where each was first reached). Found the session
 * retention that Graphs.releaseSessionState fixes.
 *
 * <pre>
 * java --add-opens java.base/java.lang=ALL-UNNAMED --add-opens java.base/java.lang.ref=ALL-UNNAMED \
 *   -Xmx3g -cp lora-bench/target/lora.jar:lora-bench/target/test-classes \
 *   dev.loraj.bench.memory.LiveMemoryProbe [full|lora|both] [steps]
 * </pre>
 * {@code -Dprobe.fix=state|drop} additionally clears the sessions' state or drops the sessions
 * after each step (the experiments that located the cause).
 */
public final class LiveMemoryProbe {

  public static void main(String[] args) throws Exception {
    String which = args.length > 0 ? args[0] : "full";
    int steps = args.length > 1 ? Integer.parseInt(args[1]) : 3;
    SweepConfig cfg = SweepConfig.parse(MeasuredMemoryCheck.sweepYaml(steps, true));
    AdapterRegistry registry = AdapterRegistry.discover();
    Task task = Tasks.create(cfg.task());
    report("after task", null);
    for (TrialSpec spec : SweepPlan.of(cfg, registry).trials()) {
      boolean full = spec.variant().equals(TrialSpec.FULL_FT);
      if (!which.equals("both") && full != which.equals("full")) {
        continue;
      }
      BaseModel base = task.newBaseModel();
      PeftModel pm = new PeftModel(base, registry);
      if (full) {
        pm.addTrainableBase(new LinkedHashSet<>(base.weights().keySet()));
      } else {
        pm.addAdapter("default", new AdapterSpec(spec.config(), spec.targets().withModulesToSave("classifier")), 1);
      }
      report(spec.id() + " model built", null);
      Trainer.Session s = new Trainer(spec.train()).start(pm, task.objective());
      report("session started", null);
      var batches = task.trainBatches(1, 16);
      for (int i = 1; i <= steps; i++) {
        long t0 = System.nanoTime();
        s.step(i, batches);
        String fix = System.getProperty("probe.fix", "none");
        SameDiff sdx = (SameDiff) field(s, "sd");
        for (SameDiff f : new SameDiff[] {sdx, sdx.getFunction("grad")}) {
          if (fix.equals("state")) {
            f.getSessions().values().forEach(x -> {
              x.getNodeValueOutputs().clear();
              x.getArrayUseTracker().clear();
            });
          } else if (fix.equals("drop")) {
            f.getSessions().clear();
          }
        }
        System.out.printf("step %d %.0f ms%n", i, (System.nanoTime() - t0) / 1e6);
        report("after step " + i, null);
        if (i == 4 || i == steps) {
          Map<String, Object> rr = new java.util.LinkedHashMap<>();
          rr.put("thread", Thread.currentThread());
          rr.put("exec", org.nd4j.linalg.factory.Nd4j.getExecutioner());
          rr.put("mem", org.nd4j.linalg.factory.Nd4j.getMemoryManager());
          rr.put("const", org.nd4j.linalg.factory.Nd4j.getConstantHandler());
          rr.put("shape", org.nd4j.linalg.factory.Nd4j.getShapeInfoProvider());
          rr.put("ws", org.nd4j.linalg.factory.Nd4j.getWorkspaceManager());
          rr.put("dealloc", org.nd4j.linalg.factory.Nd4j.getDeallocatorService());
          rr.put("rng", org.nd4j.linalg.factory.Nd4j.getRandom());
          rr.put("session", s);
          attribute(rr);
          Process pr = new ProcessBuilder("jcmd", Long.toString(ProcessHandle.current().pid()), "GC.class_histogram")
              .redirectErrorStream(true).start();
          for (String line : new String(pr.getInputStream().readAllBytes()).split("\n")) {
            if (line.contains("nd4j") && (line.contains("Buffer") || line.contains("NDArray") || line.contains("OpContext")
                || line.contains("SDValue") || line.contains("Pointer"))) {
              System.out.println("HIST " + i + " " + line.trim());
            }
          }
        }
      }
      Map<String, Object> roots = new java.util.LinkedHashMap<>();
      roots.put("session", s);
      roots.put("task", task);
      attribute(roots);
      SameDiff sd = (SameDiff) field(s, "sd");
      SameDiff grad = sd.getFunction("grad");
      System.out.println("sessions sd=" + sd.getSessions().size() + " grad=" + (grad == null ? -1 : grad.getSessions().size()));
      if (grad != null) {
        grad.getSessions().values().forEach(x -> {
          x.getNodeValueOutputs().clear();
          x.getArrayUseTracker().clear();
        });
        report("grad nodeValueOutputs cleared", null);
        Map<String, Object> r2 = new java.util.LinkedHashMap<>();
        r2.put("session", s);
        attribute(r2);
        grad.getSessions().clear();
        report("grad sessions cleared", null);
      }
      sd.getSessions().clear();
      report("sd sessions cleared", null);
      s = null;
      sd = null;
      grad = null;
      report("session dropped", null);
      pm = null;
      base = null;
      report("model dropped", null);
    }
  }

  static void report(String what, Object unused) {
    long before = MemoryMonitor.offHeapBytes();
    System.out.printf("%-40s before gc %6d MiB%n", what, before >> 20);
    System.gc();
    System.gc();
    long live = settled();
    System.out.printf("%-40s live %6d MiB  rss %6d MiB%n", what, live >> 20, MemoryMonitor.rssBytes() >> 20);
  }

  static long settled() {
    long last = MemoryMonitor.offHeapBytes();
    for (int i = 0; i < 60; i++) {
      try {
        Thread.sleep(10);
      } catch (InterruptedException e) {
        break;
      }
      long now = MemoryMonitor.offHeapBytes();
      if (now >= last && i > 2) {
        return now;
      }
      last = now;
    }
    return last;
  }

  static Object field(Object o, String name) throws Exception {
    for (Class<?> c = o.getClass(); c != null; c = c.getSuperclass()) {
      try {
        Field f = c.getDeclaredField(name);
        f.setAccessible(true);
        return f.get(o);
      } catch (NoSuchFieldException e) {
        // continue
      }
    }
    throw new NoSuchFieldException(name);
  }

  /** Walks references from the roots; sums unique native buffers by the path where first seen. */
  static void attribute(Map<String, Object> roots) {
    IdentityHashMap<Object, String> seen = new IdentityHashMap<>();
    Map<Long, Long> byAddress = new HashMap<>();
    Map<String, long[]> byPath = new TreeMap<>();
    ArrayDeque<Object[]> queue = new ArrayDeque<>();
    roots.forEach((k, v) -> queue.add(new Object[] {v, k}));
    while (!queue.isEmpty()) {
      Object[] e = queue.poll();
      Object o = e[0];
      String path = (String) e[1];
      if (o == null || seen.containsKey(o)) {
        continue;
      }
      seen.put(o, path);
      if (o instanceof DataBuffer db) {
        DataBuffer root = db.originalDataBuffer() != null ? db.originalDataBuffer() : db;
        long addr;
        try {
          addr = root.address();
        } catch (RuntimeException ex) {
          continue;
        }
        long bytes = root.length() * root.getElementSize();
        if (addr != 0 && byAddress.putIfAbsent(addr, bytes) == null) {
          long[] acc = byPath.computeIfAbsent(generic(path), k -> new long[2]);
          acc[0] += bytes;
          acc[1]++;
        }
        continue;
      }
      Class<?> c = o.getClass();
      if (c.isArray()) {
        if (!c.getComponentType().isPrimitive()) {
          int n = Array.getLength(o);
          for (int i = 0; i < n; i++) {
            queue.add(new Object[] {Array.get(o, i), path + "[]"});
          }
        }
        continue;
      }
      if (o instanceof Map<?, ?> m && (c.getName().startsWith("java.") || c.getName().startsWith("com.google"))) {
        for (Map.Entry<?, ?> en : new ArrayList<>(m.entrySet())) {
          String key = String.valueOf(en.getKey());
          queue.add(new Object[] {en.getKey(), path + "{k}"});
          queue.add(new Object[] {en.getValue(), path + "{" + (key.length() > 40 ? key.substring(0, 40) : key) + "}"});
        }
        continue;
      }
      if (o instanceof Collection<?> col && (c.getName().startsWith("java.") || c.getName().startsWith("com.google"))) {
        for (Object x : new ArrayList<>(col)) {
          queue.add(new Object[] {x, path + "[]"});
        }
        continue;
      }
      boolean tl = c.getName().startsWith("java.lang.Thread");
      if (!tl && (c.getName().startsWith("java.") || c.getName().startsWith("jdk.")) || c.getName().startsWith("sun.")
          || o instanceof Class<?> || o instanceof ClassLoader) {
        continue;
      }
      for (Class<?> k = c; k != null && k != Object.class; k = k.getSuperclass()) {
        if (k.getName().startsWith("java.") && !k.getName().startsWith("java.lang.Thread") && !k.getName().startsWith("java.lang.ref.Reference")) {
          continue;
        }
        for (Field f : k.getDeclaredFields()) {
          if (Modifier.isStatic(f.getModifiers()) || f.getType().isPrimitive()) {
            continue;
          }
          try {
            f.setAccessible(true);
            queue.add(new Object[] {f.get(o), path + "." + f.getName()});
          } catch (RuntimeException | IllegalAccessException ex) {
            // inaccessible
          }
        }
      }
    }
    long total = 0;
    List<Map.Entry<String, long[]>> rows = new ArrayList<>(byPath.entrySet());
    rows.sort((a, b) -> Long.compare(b.getValue()[0], a.getValue()[0]));
    for (Map.Entry<String, long[]> r : rows) {
      total += r.getValue()[0];
    }
    System.out.printf("reachable native buffers: %d MiB in %d buffers%n", total >> 20, byAddress.size());
    for (int i = 0; i < Math.min(25, rows.size()); i++) {
      var r = rows.get(i);
      System.out.printf("  %8.1f MiB %6d  %s%n", r.getValue()[0] / 1048576.0, r.getValue()[1], r.getKey());
    }
  }

  /** Path with map keys and trailing detail collapsed, truncated to a few segments. */
  static String generic(String path) {
    String p = path.replaceAll("\\{[^}]*\\}", "{}");
    p = p.replaceAll("(\\[\\])+", "[]");
    String[] parts = p.split("\\.");
    StringBuilder b = new StringBuilder();
    for (int i = 0; i < Math.min(parts.length, 9); i++) {
      if (i > 0) {
        b.append('.');
      }
      b.append(parts[i]);
    }
    return b.toString();
  }
}
