package dev.loraj.bench.jmh;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.reflect.Field;
import java.lang.reflect.Method;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.TearDown;

/**
 * The JMH smoke check for CI: every {@code @Benchmark} method of every class in this package runs
 * once, directly (no JMH harness, no timing), for every combination of its {@code @Param} values,
 * with the size parameters shrunk so that the whole check takes seconds. The harness-level smoke
 * run is {@code ./lora jmh --smoke}.
 */
class BenchmarksRunTest {

  /** Size parameters replaced by small values (every other parameter keeps all its values). */
  static final Map<String, String> SMALL = Map.of("width", "64", "size", "64");

  @Test
  void everyBenchmarkMethodRunsOnceForEveryParameterCombination() throws Exception {
    List<Class<?>> classes = benchmarkClasses();
    assertThat(classes).extracting(Class::getSimpleName).contains("TrainingStepBenchmark",
        "InferenceBenchmark", "DequantBenchmark", "SvdInitBenchmark", "AdapterIoBenchmark");
    int runs = 0;
    for (Class<?> c : classes) {
      for (Map<Field, String> params : combinations(c)) {
        Object bench = c.getDeclaredConstructor().newInstance();
        for (Map.Entry<Field, String> p : params.entrySet()) {
          set(bench, p.getKey(), p.getValue());
        }
        invokeAll(bench, Setup.class);
        try {
          for (Method m : c.getMethods()) {
            if (m.isAnnotationPresent(Benchmark.class)) {
              m.invoke(bench);
              runs++;
            }
          }
        } finally {
          invokeAll(bench, TearDown.class);
        }
      }
    }
    assertThat(runs).isGreaterThanOrEqualTo(16);
  }

  /** Classes of this package with at least one @Benchmark method (JMH's generated code excluded). */
  static List<Class<?>> benchmarkClasses() throws URISyntaxException, java.io.IOException,
      ClassNotFoundException {
    Path dir = Path.of(TrainingStepBenchmark.class.getProtectionDomain().getCodeSource().getLocation().toURI())
        .resolve("dev/loraj/bench/jmh");
    List<Class<?>> out = new ArrayList<>();
    try (Stream<Path> files = Files.list(dir)) {
      for (Path f : files.sorted().toList()) {
        String n = f.getFileName().toString();
        if (!n.endsWith(".class") || n.contains("$")) {
          continue;
        }
        Class<?> c = Class.forName("dev.loraj.bench.jmh." + n.substring(0, n.length() - 6));
        if (Arrays.stream(c.getMethods()).anyMatch(m -> m.isAnnotationPresent(Benchmark.class))) {
          out.add(c);
        }
      }
    }
    return out;
  }

  static List<Map<Field, String>> combinations(Class<?> c) {
    List<Map<Field, String>> out = new ArrayList<>();
    out.add(new LinkedHashMap<>());
    for (Field f : c.getFields()) {
      Param p = f.getAnnotation(Param.class);
      if (p == null) {
        continue;
      }
      List<String> values = SMALL.containsKey(f.getName()) ? List.of(SMALL.get(f.getName())) : List.of(p.value());
      List<Map<Field, String>> next = new ArrayList<>();
      for (Map<Field, String> partial : out) {
        for (String v : values) {
          Map<Field, String> m = new LinkedHashMap<>(partial);
          m.put(f, v);
          next.add(m);
        }
      }
      out = next;
    }
    return out;
  }

  private static void set(Object bench, Field f, String v) throws IllegalAccessException {
    Class<?> t = f.getType();
    if (t == int.class) {
      f.setInt(bench, Integer.parseInt(v));
    } else if (t == long.class) {
      f.setLong(bench, Long.parseLong(v));
    } else if (t == boolean.class) {
      f.setBoolean(bench, Boolean.parseBoolean(v));
    } else if (t == String.class) {
      f.set(bench, v);
    } else {
      throw new IllegalStateException("@Param " + f + " of type " + t + " is not handled by this test");
    }
  }

  private static void invokeAll(Object bench, Class<? extends java.lang.annotation.Annotation> a)
      throws ReflectiveOperationException {
    for (Method m : bench.getClass().getMethods()) {
      if (m.isAnnotationPresent(a)) {
        m.invoke(bench);
      }
    }
  }
}
