package dev.loraj.core.model;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonValue;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Pattern;

/**
 * Which linear sites get an adapter, as PEFT users know it (PEFT {@code check_target_module_exists}):
 * a list matches a module path exactly or as a dotted suffix; a single string is a regex matched
 * against the whole path; {@code all-linear} is every linear layer but the output head.
 * Embedding tables ({@link LinearSite#embedding()}: {@code embed_tokens}, {@code wte},
 * {@code word_embeddings}) are selected by name or regex like any module, never by
 * {@code all-linear}.
 *
 * <p>Unlike PEFT, a target, an exclude entry or a pattern key that matches nothing is an error
 * listing the available module names (PEFT issue #3582).
 *
 * @param targetModules names/suffixes, or one regex, or {@code all-linear}
 * @param exclude modules removed from the selection (same matching rules)
 * @param layers only sites whose block index is in this list (empty: all)
 * @param rankPattern per-module rank: key matched as {@code (.*\.)?(key)$}; first match wins
 * @param alphaPattern per-module alpha, same matching
 * @param modulesToSave base modules trained fully alongside the adapter (a classifier head)
 */
@JsonInclude(JsonInclude.Include.NON_EMPTY)
public record Targets(
    Selector targetModules,
    Selector exclude,
    List<Integer> layers,
    Map<String, Integer> rankPattern,
    Map<String, Double> alphaPattern,
    List<String> modulesToSave) {

  public static final String ALL_LINEAR = "all-linear";

  public Targets {
    if (targetModules == null) {
      throw new IllegalArgumentException(
          "target_modules is required: a list of module names, a regex, or 'all-linear'");
    }
    exclude = exclude == null ? Selector.NONE : exclude;
    layers = layers == null ? List.of() : List.copyOf(layers);
    rankPattern = rankPattern == null ? Map.of() : unmodifiableOrdered(rankPattern);
    alphaPattern = alphaPattern == null ? Map.of() : unmodifiableOrdered(alphaPattern);
    modulesToSave = modulesToSave == null ? List.of() : List.copyOf(modulesToSave);
    rankPattern.forEach((k, v) -> {
      if (v == null || v <= 0) {
        throw new IllegalArgumentException("rank_pattern['" + k + "'] = " + v + ": must be > 0");
      }
    });
    alphaPattern.forEach((k, v) -> {
      if (v == null || !(v > 0)) {
        throw new IllegalArgumentException("alpha_pattern['" + k + "'] = " + v + ": must be > 0");
      }
    });
  }

  public static Targets of(String... names) {
    return new Targets(Selector.names(List.of(names)), null, null, null, null, null);
  }

  public static Targets regex(String regex) {
    return new Targets(Selector.regex(regex), null, null, null, null, null);
  }

  public static Targets allLinear() {
    return new Targets(Selector.regex(ALL_LINEAR), null, null, null, null, null);
  }

  public Targets withExclude(String... names) {
    return new Targets(targetModules, Selector.names(List.of(names)), layers, rankPattern, alphaPattern, modulesToSave);
  }

  public Targets withLayers(Integer... indices) {
    return new Targets(targetModules, exclude, List.of(indices), rankPattern, alphaPattern, modulesToSave);
  }

  public Targets withRankPattern(Map<String, Integer> pattern) {
    return new Targets(targetModules, exclude, layers, pattern, alphaPattern, modulesToSave);
  }

  public Targets withAlphaPattern(Map<String, Double> pattern) {
    return new Targets(targetModules, exclude, layers, rankPattern, pattern, modulesToSave);
  }

  public Targets withModulesToSave(String... modules) {
    return new Targets(targetModules, exclude, layers, rankPattern, alphaPattern, List.of(modules));
  }

  /** The selected sites, in model order; errors on any selector or key that matches nothing. */
  public List<LinearSite> resolve(List<LinearSite> sites) {
    List<LinearSite> selected = new ArrayList<>();
    Set<String> matchedNames = new LinkedHashSet<>();
    for (LinearSite s : sites) {
      if (targetModules.matches(s, matchedNames)) {
        selected.add(s);
      }
    }
    targetModules.checkAllMatched(matchedNames, "target_modules", sites);
    if (selected.isEmpty()) {
      throw new IllegalArgumentException(
          "target_modules " + targetModules + " matches no linear module; available: "
              + available(sites));
    }
    if (exclude != Selector.NONE) {
      Set<String> matchedEx = new LinkedHashSet<>();
      List<LinearSite> kept = new ArrayList<>();
      for (LinearSite s : selected) {
        if (!exclude.matches(s, matchedEx)) {
          kept.add(s);
        }
      }
      exclude.checkAllMatched(matchedEx, "exclude", selected);
      selected = kept;
    }
    if (!layers.isEmpty()) {
      Set<Integer> wanted = new TreeSet<>(layers);
      Set<Integer> seen = new TreeSet<>();
      List<LinearSite> kept = new ArrayList<>();
      for (LinearSite s : selected) {
        if (s.layerIndex().isPresent() && wanted.contains(s.layerIndex().getAsInt())) {
          kept.add(s);
          seen.add(s.layerIndex().getAsInt());
        }
      }
      wanted.removeAll(seen);
      if (!wanted.isEmpty()) {
        throw new IllegalArgumentException(
            "layers " + wanted + " have no targeted module; targeted modules: " + paths(selected));
      }
      selected = kept;
    }
    if (selected.isEmpty()) {
      throw new IllegalArgumentException("the target selection is empty after exclude/layers");
    }
    checkPatternKeys(rankPattern.keySet(), "rank_pattern", selected);
    checkPatternKeys(alphaPattern.keySet(), "alpha_pattern", selected);
    return List.copyOf(selected);
  }

  /** The rank for {@code site}: the first matching rank_pattern key, else {@code defaultRank}. */
  public int rankFor(LinearSite site, int defaultRank) {
    for (Map.Entry<String, Integer> e : rankPattern.entrySet()) {
      if (patternMatches(e.getKey(), site.path())) {
        return e.getValue();
      }
    }
    return defaultRank;
  }

  public double alphaFor(LinearSite site, double defaultAlpha) {
    for (Map.Entry<String, Double> e : alphaPattern.entrySet()) {
      if (patternMatches(e.getKey(), site.path())) {
        return e.getValue();
      }
    }
    return defaultAlpha;
  }

  /** The weight names of {@link #modulesToSave} (module path + ".weight"/".bias", or exact names). */
  public Set<String> resolveModulesToSave(Set<String> weightNames) {
    Set<String> out = new LinkedHashSet<>();
    for (String module : modulesToSave) {
      boolean any = false;
      for (String w : weightNames) {
        if (w.equals(module) || w.startsWith(module + ".") || w.contains("." + module + ".")) {
          out.add(w);
          any = true;
        }
      }
      if (!any) {
        throw new IllegalArgumentException(
            "modules_to_save entry '" + module + "' matches no weight; weights: " + new TreeSet<>(weightNames));
      }
    }
    return out;
  }

  /** PEFT's pattern-key rule: {@code (.*\.)?(key)$} against the full path. */
  static boolean patternMatches(String key, String path) {
    return Pattern.compile("(.*\\.)?(" + key + ")$").matcher(path).matches();
  }

  private static void checkPatternKeys(Set<String> keys, String field, List<LinearSite> selected) {
    for (String key : keys) {
      if (selected.stream().noneMatch(s -> patternMatches(key, s.path()))) {
        throw new IllegalArgumentException(
            field + " key '" + key + "' matches no targeted module; targeted modules: " + paths(selected));
      }
    }
  }

  static String available(List<LinearSite> sites) {
    Set<String> leaves = new TreeSet<>();
    sites.forEach(s -> leaves.add(s.leafName()));
    return "names " + leaves + ", paths " + paths(sites);
  }

  private static List<String> paths(List<LinearSite> sites) {
    return sites.stream().map(LinearSite::path).toList();
  }

  private static <V> Map<String, V> unmodifiableOrdered(Map<String, V> m) {
    return java.util.Collections.unmodifiableMap(new LinkedHashMap<>(m));
  }

  /** A list of names/suffixes, or one regex (or {@code all-linear}); JSON: a list or a string. */
  public record Selector(List<String> names, String regex) {

    public static final Selector NONE = new Selector(List.of(), null);

    public Selector {
      names = names == null ? List.of() : List.copyOf(names);
      if (regex != null) {
        try {
          Pattern.compile(regex);
        } catch (java.util.regex.PatternSyntaxException e) {
          throw new IllegalArgumentException("invalid target regex '" + regex + "': " + e.getDescription());
        }
      }
    }

    public static Selector names(List<String> names) {
      return new Selector(names, null);
    }

    public static Selector regex(String regex) {
      return new Selector(List.of(), regex);
    }

    @JsonCreator(mode = JsonCreator.Mode.DELEGATING)
    static Selector fromJson(Object value) {
      if (value instanceof String s) {
        return regex(s);
      }
      if (value instanceof List<?> list) {
        return names(list.stream().map(String::valueOf).toList());
      }
      throw new IllegalArgumentException(
          "a module selector is a list of names or a regex string, got: " + value);
    }

    @JsonValue
    Object toJson() {
      return regex != null ? regex : names;
    }

    boolean isAllLinear() {
      return ALL_LINEAR.equals(regex);
    }

    boolean matches(LinearSite s, Set<String> matchedNames) {
      if (isAllLinear()) {
        return !s.outputHead() && !s.embedding();
      }
      if (regex != null) {
        boolean m = Pattern.compile(regex).matcher(s.path()).matches();
        if (m) {
          matchedNames.add(regex);
        }
        return m;
      }
      boolean any = false;
      for (String n : names) {
        if (s.path().equals(n) || s.path().endsWith("." + n)) {
          matchedNames.add(n);
          any = true;
        }
      }
      return any;
    }

    void checkAllMatched(Set<String> matched, String field, List<LinearSite> sites) {
      if (isAllLinear()) {
        return;
      }
      List<String> wanted = regex != null ? List.of(regex) : names;
      for (String n : wanted) {
        if (!matched.contains(n)) {
          throw new IllegalArgumentException(
              field + " entry '" + n + "' matches no linear module; available: " + available(sites));
        }
      }
    }

    @Override
    public String toString() {
      return String.valueOf(toJson());
    }
  }

  /** Jackson: properties in snake_case via the framework's mapper. */
  @JsonCreator
  static Targets create(
      @JsonProperty("target_modules") Selector targetModules,
      @JsonProperty("exclude") Selector exclude,
      @JsonProperty("layers") List<Integer> layers,
      @JsonProperty("rank_pattern") Map<String, Integer> rankPattern,
      @JsonProperty("alpha_pattern") Map<String, Double> alphaPattern,
      @JsonProperty("modules_to_save") List<String> modulesToSave) {
    return new Targets(targetModules, exclude, layers, rankPattern, alphaPattern, modulesToSave);
  }
}
