package dev.loraj.core.adapter;

import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.ServiceLoader;
import java.util.TreeMap;

/**
 * The variants known to this process: an immutable instance (not a static global), keyed by
 * lower-case name. Two factories with the same name fail at construction, naming both classes.
 */
public final class AdapterRegistry {

  private final Map<String, AdapterFactory<?>> factories;

  private AdapterRegistry(Map<String, AdapterFactory<?>> factories) {
    this.factories = factories;
  }

  /** Every factory visible to {@code loader} through {@link ServiceLoader}. */
  public static AdapterRegistry discover(ClassLoader loader) {
    @SuppressWarnings("rawtypes")
    ServiceLoader<AdapterFactory> found = ServiceLoader.load(AdapterFactory.class, loader);
    return of(found.stream().map(p -> (AdapterFactory<?>) p.get()).toList());
  }

  /** Every factory on the class path of this library. */
  public static AdapterRegistry discover() {
    ClassLoader context = Thread.currentThread().getContextClassLoader();
    return discover(context != null ? context : AdapterRegistry.class.getClassLoader());
  }

  public static AdapterRegistry of(List<? extends AdapterFactory<?>> list) {
    Map<String, AdapterFactory<?>> map = new TreeMap<>();
    for (AdapterFactory<?> f : list) {
      String key = f.name().toLowerCase(Locale.ROOT);
      if (!key.equals(f.name())) {
        throw new IllegalStateException(
            "adapter factory " + f.getClass().getName() + " has name '" + f.name()
                + "': names must be lower case");
      }
      AdapterFactory<?> previous = map.putIfAbsent(key, f);
      if (previous != null) {
        throw new IllegalStateException(
            "two adapter factories are registered as '" + key + "': "
                + previous.getClass().getName() + " and " + f.getClass().getName());
      }
    }
    return new AdapterRegistry(Map.copyOf(map));
  }

  /** The factory named {@code name} (case-insensitive), or an error listing the known names. */
  public AdapterFactory<?> get(String name) {
    AdapterFactory<?> f = name == null ? null : factories.get(name.toLowerCase(Locale.ROOT));
    if (f == null) {
      throw new dev.loraj.core.config.ConfigException(
          "unknown variant '" + name + "'" + dev.loraj.core.config.Suggestions.hint(String.valueOf(name), names())
              + "; registered variants: " + names());
    }
    return f;
  }

  /** The factory whose config type is {@code config}'s class. */
  public AdapterFactory<?> forConfig(AdapterConfig config) {
    for (AdapterFactory<?> f : factories.values()) {
      if (f.configType().equals(config.getClass())) {
        return f;
      }
    }
    throw new IllegalArgumentException(
        "no registered variant takes a config of type " + config.getClass().getName());
  }

  public boolean contains(String name) {
    return name != null && factories.containsKey(name.toLowerCase(Locale.ROOT));
  }

  public List<String> names() {
    return List.copyOf(new TreeMap<>(factories).keySet());
  }

  public List<AdapterFactory<?>> factories() {
    return names().stream().<AdapterFactory<?>>map(factories::get).toList();
  }
}
