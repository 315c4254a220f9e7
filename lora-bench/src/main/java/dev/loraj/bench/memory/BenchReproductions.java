package dev.loraj.bench.memory;

import dev.loraj.eval.reproduce.Reproduction;
import dev.loraj.eval.reproduce.Reproductions;
import java.util.ArrayList;
import java.util.List;

/**
 * The reproductions {@code lora reproduce} runs: those of {@link Reproductions} plus the ones
 * that need the sweep harness (lora-bench), placed after the implemented measured ones.
 */
public final class BenchReproductions {
  private BenchReproductions() {}

  private static final List<Reproduction> ALL = build();

  private static List<Reproduction> build() {
    List<Reproduction> out = new ArrayList<>();
    Reproduction extra = new MeasuredMemoryCheck();
    boolean added = false;
    for (Reproduction r : Reproductions.all()) {
      if (!r.implemented() && !added) {
        out.add(extra);
        added = true;
      }
      out.add(r);
    }
    if (!added) {
      out.add(extra);
    }
    return List.copyOf(out);
  }

  public static List<Reproduction> all() {
    return ALL;
  }

  public static List<String> ids() {
    return ALL.stream().map(Reproduction::id).toList();
  }

  public static Reproduction get(String id) {
    for (Reproduction r : ALL) {
      if (r.id().equals(id)) {
        return r;
      }
    }
    throw new IllegalArgumentException("no reproduction '" + id + "'; ids: " + ids());
  }
}
